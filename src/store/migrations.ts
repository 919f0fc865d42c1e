// Schema migrations, in code so the same list runs on SQLite and PostgreSQL at start.
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type Db = Kysely<unknown>;

export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Db) {
      const bigintType = sql`bigint`;
      await db.schema.createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      for (const table of ['api_keys', 'access_keys'] as const) {
        let t = db.schema.createTable(table)
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
          .addColumn('name', 'text')
          .addColumn('description', 'text')
          .addColumn('metadata', 'text')
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('key_redacted', 'text', (c) => c.notNull())
          .addColumn('last_used', 'text');
        if (table === 'access_keys') t = t.addColumn('configuration_id', 'text');
        await t
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('last_updated_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex(`${table}_account_idx`).on(table).columns(['account_id', 'id']).execute();
      }

      await db.schema.createTable('access_key_configurations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('metadata', 'text')
        .addColumn('access', 'text')
        .addColumn('router', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('access_key_configurations_account_idx').on('access_key_configurations').columns(['account_id', 'id']).execute();

      await db.schema.createTable('provider_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('provider_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('metadata', 'text')
        .addColumn('sealed_value', 'text', (c) => c.notNull())
        .addColumn('key_redacted', 'text', (c) => c.notNull())
        .addColumn('last_used', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('provider_keys_account_idx').on('provider_keys').columns(['account_id', 'id']).execute();

      await db.schema.createTable('providers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('provider_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('base_url', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text')
        .addColumn('supported_api_surfaces', 'text')
        .addColumn('models', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('providers_account_provider_uq', ['account_id', 'provider_id'])
        .execute();

      await db.schema.createTable('gateway_configs')
        .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id'))
        .addColumn('total_timeout', 'text')
        .addColumn('per_request_timeout', 'text')
        .addColumn('max_input_tokens', bigintType)
        .addColumn('max_input_tokens_set', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_output_tokens', bigintType)
        .addColumn('max_output_tokens_set', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('metadata', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema.createTable('credit_transactions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('category', 'text')
        .addColumn('amount_cents', bigintType, (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('external_ref', 'text', (c) => c.unique())
        .addColumn('details', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('credit_transactions_account_idx').on('credit_transactions').columns(['account_id', 'id']).execute();

      await db.schema.createTable('credit_purchases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('amount', bigintType, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('decline_reason', 'text')
        .addColumn('external_ref', 'text', (c) => c.unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema.createTable('usage_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('access_key_id', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('provider_display_name', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('model_display_name', 'text', (c) => c.notNull())
        .addColumn('attempt_number', 'integer', (c) => c.notNull())
        .addColumn('is_final_attempt', 'integer', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('timed_out', 'integer', (c) => c.notNull())
        .addColumn('is_error', 'integer', (c) => c.notNull())
        .addColumn('is_streaming', 'integer', (c) => c.notNull())
        .addColumn('stop_reason', 'text', (c) => c.notNull())
        .addColumn('input_tokens', bigintType, (c) => c.notNull())
        .addColumn('output_tokens', bigintType, (c) => c.notNull())
        .addColumn('cache_read_tokens', bigintType, (c) => c.notNull())
        .addColumn('cache_write_tokens', bigintType, (c) => c.notNull())
        .addColumn('reasoning_tokens', bigintType, (c) => c.notNull())
        .addColumn('usage_estimated', 'integer', (c) => c.notNull())
        .addColumn('input_tokens_estimate', bigintType, (c) => c.notNull())
        .addColumn('output_tokens_estimate', bigintType, (c) => c.notNull())
        .addColumn('cost_pico', bigintType, (c) => c.notNull())
        .addColumn('key_source', 'text', (c) => c.notNull())
        .addColumn('provider_key_id', 'text')
        .addColumn('provider_key_display_name', 'text')
        .addColumn('retry_action', 'text', (c) => c.notNull())
        .addColumn('completion', 'text', (c) => c.notNull())
        .addColumn('upstream_duration_ms', 'integer', (c) => c.notNull())
        .addColumn('event_time', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('usage_events_account_time_idx').on('usage_events').columns(['account_id', 'event_time', 'id']).execute();
      await db.schema.createIndex('usage_events_request_idx').on('usage_events').columns(['request_id']).execute();
    },
  },
  '0002_state_changes': {
    async up(db: Db) {
      // instanceof, not the class name: the migrations run through a subclass of it (database.ts).
      const seq = db.getExecutor().adapter instanceof PostgresAdapter
        ? db.schema.createTable('state_changes').addColumn('seq', 'bigserial', (c) => c.primaryKey())
        : db.schema.createTable('state_changes').addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
      await seq
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0003_bootstrap_claim': {
    async up(db: Db) {
      // One row claims the first start of an empty database, so concurrent first starts create one account.
      await db.schema.createTable('bootstrap_claims').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
    },
  },
  '0004_usage_events_drop_request_index': {
    async up(db: Db) {
      // Nothing queries usage events by request id (pages are by account and time; a request's attempts arrive
      // together in those pages), and every gateway request paid one more B-tree insert for it.
      await db.schema.dropIndex('usage_events_request_idx').ifExists().execute();
    },
  },
  '0005_first_api_key_made_by_itself': {
    async up(db: Db) {
      // An account's first API key was stamped as made by the account, whose reference URI (/accounts/…) no
      // operation serves; it is the one principal without a maker in the API, so it names itself.
      await sql`UPDATE api_keys SET created_by = id WHERE created_by LIKE 'acct%'`.execute(db);
      await sql`UPDATE api_keys SET last_updated_by = id WHERE last_updated_by LIKE 'acct%'`.execute(db);
    },
  },
  '0006_usage_events_request_index': {
    async up(db: Db) {
      // GET /usage/requests/{requestId} (ngrok's request-attempts lookup) reads a request's attempts by its id:
      // worth the B-tree insert per event that 0004 had saved while nothing queried by it.
      await db.schema.createIndex('usage_events_request_idx').ifNotExists().on('usage_events').columns(['request_id']).execute();
    },
  },
  '0007_credit_purchase_idempotency_key': {
    async up(db: Db) {
      // POST /credits/purchases takes an Idempotency-Key (ngrok's published contract): a repeat returns the attempt
      // the first request started. One key per account; NULL (no key) may repeat on both databases.
      await db.schema.alterTable('credit_purchases').addColumn('idempotency_key', 'text').execute();
      await db.schema.createIndex('credit_purchases_idempotency_idx').unique().on('credit_purchases').columns(['account_id', 'idempotency_key']).execute();
    },
  },
  '0008_usage_event_cost_parts': {
    async up(db: Db) {
      // Usage events show their cost's parts (ngrok's later contract: inputTokenCost, …, ngrokProcessingFee) and
      // the hour-long cache writes. Rows recorded before stay at 0 in each: their parts were never kept, and a
      // recomputation at today's prices would not be what was billed.
      for (const column of ['cache_write1h_tokens', 'input_cost_pico', 'output_cost_pico', 'cache_read_cost_pico', 'cache_write5m_cost_pico', 'cache_write1h_cost_pico', 'fee_pico']) {
        await db.schema.alterTable('usage_events').addColumn(column, sql`bigint`, (c) => c.notNull().defaultTo(0)).execute();
      }
    },
  },
  '0009_virtual_models': {
    async up(db: Db) {
      // Virtual models (ngrok's /virtual-models): a name an account chooses for an ordered list of models. The name is
      // unique per account whatever its case, as model names are matched (gateway.md §4); usage events record the
      // name a request used (null before, and on requests that named none).
      await db.schema.createTable('virtual_models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_key', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('targets', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('virtual_models_account_name_uq', ['account_id', 'name_key'])
        .execute();
      await db.schema.alterTable('usage_events').addColumn('virtual_model', 'text').execute();
    },
  },
  '0010_firewall_policies': {
    async up(db: Db) {
      // Firewall policies (ngrok's /firewall-policies): named rule sets screening requests and the tool calls models
      // return. Rules and environment facts are JSON, read and written whole. A policy applies through the gateway
      // config (every key of the account) or an access key configuration (its keys). The reference columns carry no
      // foreign key, as access_keys.configuration_id does not: the control plane checks the account and refuses a
      // delete still referenced, under the account's lock.
      await db.schema.createTable('firewall_policies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('on_error', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('firewall_policies_account_idx').on('firewall_policies').columns(['account_id', 'id']).execute();
      await db.schema.alterTable('gateway_configs').addColumn('firewall_policy_id', 'text').execute();
      await db.schema.alterTable('access_key_configurations').addColumn('firewall_policy_id', 'text').execute();
    },
  },
  '0011_provider_key_aws_region': {
    async up(db: Db) {
      // Amazon Bedrock keys (ngrok's "AWS settings"): the region whose Bedrock endpoint the key calls. Plain text beside
      // the sealed value, as it is no secret; null on every key stored before, none of which is a Bedrock key.
      await db.schema.alterTable('provider_keys').addColumn('aws_region', 'text').execute();
    },
  },
  '0012_usage_event_firewall': {
    async up(db: Db) {
      // Firewall's verdicts on an attempt (ngrok's audit mode "reports the verdict"): a JSON array read whole by the
      // usage API; null on events before, and on those no rule had a say on.
      await db.schema.alterTable('usage_events').addColumn('firewall', 'text').execute();
    },
  },
  '0013_mcp_servers': {
    async up(db: Db) {
      // MCP servers (ngrok's MCP Gateway): upstream MCP servers an account registers under a label, with how the
      // gateway authenticates to them (JSON, read and written whole). The label is unique per account: it prefixes
      // the server's tools and names its secret's provider keys (`mcp:<label>`), which live in provider_keys and are
      // tied to the label, not to this row (a deleted server leaves them).
      await db.schema.createTable('mcp_servers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('upstream_url', 'text', (c) => c.notNull())
        .addColumn('auth', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('last_updated_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('mcp_servers_account_label_uq', ['account_id', 'label'])
        .execute();
      await db.schema.createIndex('mcp_servers_account_idx').on('mcp_servers').columns(['account_id', 'id']).execute();
    },
  },
  '0014_request_capture': {
    async up(db: Db) {
      // Request capture (ngrok's account setting): off on every account until turned on. Captures are one row per
      // request, the bodies sealed under the master key (they hold prompts and answers), deleted when they expire.
      await db.schema.alterTable('gateway_configs').addColumn('request_capture', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.createTable('request_captures')
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('captured_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('request_captures_pk', ['account_id', 'request_id'])
        .execute();
      await db.schema.createIndex('request_captures_expires_idx').on('request_captures').column('expires_at').execute();
    },
  },
  '0015_provider_key_aws_role': {
    async up(db: Db) {
      // Bedrock keys backed by an IAM role (ngrok's `aws.roleArn`): the external ID the gateway generated for the key's
      // trust policy, and the role once the user names it. Plain text: neither is a secret (the external ID guards
      // against a confused deputy, not an attacker who reads it). A role key has no value: its sealed_value is ''.
      await db.schema.alterTable('provider_keys').addColumn('aws_external_id', 'text').execute();
      await db.schema.alterTable('provider_keys').addColumn('aws_role_arn', 'text').execute();
    },
  },
};
