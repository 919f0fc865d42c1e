// MCP servers. `auth` is a JSON column, always read and written whole; this file parses it so no caller handles raw
// JSON. A server's secret is no column here: it is a provider key of provider `mcp:<label>`, looked up by label.
import type { Kysely, Selectable } from 'kysely';
import type { Database, McpServersTable } from './schema.ts';
import type { Page } from './paging.ts';
import { pageOwned } from './owned.ts';
import { mcpSecretProvider, type McpServerAuth, type McpServerState } from '../domain/mcp-server.ts';

export type McpServerRow = Selectable<McpServersTable>;

export function listMcpServers(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<McpServerRow>> {
  return pageOwned(db, 'mcpServers', accountId, options);
}

/** The server holding `label` in the account, if any. */
export function mcpServerByLabel(db: Kysely<Database>, accountId: string, label: string): Promise<{ id: string } | undefined> {
  return db.selectFrom('mcpServers').select('id').where('accountId', '=', accountId).where('label', '=', label).executeTakeFirst();
}

/** Which of `labels` have at least one provider key of provider `mcp:<label>` in the account. */
export async function labelsWithKeys(db: Kysely<Database>, accountId: string, labels: readonly string[]): Promise<Set<string>> {
  if (labels.length === 0) return new Set();
  const byProvider = new Map(labels.map((l) => [mcpSecretProvider(l), l]));
  const rows = await db.selectFrom('providerKeys').select('providerId').distinct()
    .where('accountId', '=', accountId).where('providerId', 'in', [...byProvider.keys()]).execute();
  return new Set(rows.map((r) => byProvider.get(r.providerId)!));
}

export function authOf(row: Pick<McpServerRow, 'auth'>): McpServerAuth {
  const parsed = JSON.parse(row.auth) as McpServerAuth | null;
  return parsed !== null && typeof parsed === 'object' && typeof parsed.type === 'string' ? parsed : { type: 'none' };
}

export function mcpServerState(row: Pick<McpServerRow, 'id' | 'label' | 'upstreamUrl' | 'auth'>): McpServerState {
  return { id: row.id, label: row.label, upstreamUrl: row.upstreamUrl, auth: authOf(row) };
}
