// One catalogue of every error Tollgate answers with. Each entry fixes the HTTP status, the stable
// ERR_NGROK_* code and the message template, so the control plane, the gateway and the tests all agree.
// Templates use {name} placeholders filled from the details given when the error is raised.

export interface ErrorSpec {
  readonly status: number;
  readonly code: string;
  readonly template: string;
  /** OpenAI-style error `type` used by the gateway body; the control plane ignores it. */
  readonly type?: string;
  /**
   * Anthropic's `error.details.error_code`, for a refusal Anthropic itself answers with one: the Anthropic SDK raises
   * its class for the code (ThreadNotFoundError) and its helpers recover by it (a thread replayed from scratch).
   */
  readonly anthropicErrorCode?: string;
}

const spec = (status: number, code: string, template: string, type?: string, anthropicErrorCode?: string): ErrorSpec => ({
  status, code, template, ...(type !== undefined ? { type } : {}), ...(anthropicErrorCode !== undefined ? { anthropicErrorCode } : {}),
});

export const Errors = {
  // --- control plane: provider keys (27501–27511)
  providerKeyNameTooLong: spec(400, 'ERR_NGROK_27501', 'The provider key name must be at most 255 characters.'),
  providerKeyDescriptionTooLong: spec(400, 'ERR_NGROK_27502', 'The provider key description must be at most 255 characters.'),
  providerKeyMetadataTooLong: spec(400, 'ERR_NGROK_27503', 'The provider key metadata must be at most 4096 characters.'),
  providerKeysNotEntitled: spec(403, 'ERR_NGROK_27504', 'This account is not entitled to provider keys.'),
  providerKeyEncryptionUnavailable: spec(500, 'ERR_NGROK_27505', 'Provider key encryption is not configured on this server.'),
  providerKeyLimit: spec(409, 'ERR_NGROK_27506', 'The maximum number of keys ({limit}) for provider "{providerId}" has been reached.'),
  providerKeyValueRequired: spec(400, 'ERR_NGROK_27507', 'The provider key value must not be empty.'),
  providerKeyUnknownProvider: spec(400, 'ERR_NGROK_27508', 'Provider "{providerId}" is not a supported provider.'),
  providerKeyReferenceNotFound: spec(404, 'ERR_NGROK_27509', 'Provider key "{id}" was not found.'),
  providerKeyFieldRequired: spec(400, 'ERR_NGROK_27510', 'The field "{field}" is required.'),
  providerKeyInUse: spec(409, 'ERR_NGROK_27511', 'Provider key "{id}" is referenced by routing rules of access key configuration "{configurationId}" and cannot be deleted.'),
  // A provider key's AWS settings (Amazon Bedrock), messages as ngrok's error pages publish them.
  providerKeyAwsNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_NOT_ALLOWED', 'AWS settings apply only to a Bedrock key. This key is for {provider}.'),
  providerKeyAwsRegionNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_REGION_NOT_ALLOWED', '{region} is not a region where Bedrock runs. Use a commercial AWS region, such as us-east-1 or eu-west-1.'),
  // A Bedrock key backed by an IAM role (no value; the gateway assumes the role with the key's external ID).
  providerKeyValueAndRoleConflict: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_VALUE_AND_ROLE_CONFLICT', "A Bedrock key takes a value or 'aws.roleArn', not both. Send 'value' for an API key, or 'aws' without 'value' for a role."),
  providerKeyAwsRoleArnInvalid: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_ARN_INVALID', "'aws.roleArn' isn't the ARN of an IAM role: {reason}. Use the form arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock."),
  providerKeyAwsRoleArnNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_ARN_NOT_ALLOWED', "Provider key {id} holds an API key, so it can't take 'aws.roleArn'. Create a Bedrock key without 'value' to use an IAM role."),
  providerKeyAwsRoleNameNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_NAME_NOT_ALLOWED', "The role in 'aws.roleArn' has a name that doesn't start with 'ngrok-ai-gateway-', or it has a path. ngrok can assume only a role with that name prefix and no path."),
  providerKeyRoleRotateNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_ROLE_ROTATE_NOT_ALLOWED', 'Provider key {id} uses an AWS role, so it has no value to rotate.'),

  // --- control plane: configurations and general (27601–27617)
  gatewayNotEnabled: spec(403, 'ERR_NGROK_27601', 'The AI Gateway is not enabled for this account.'),
  fieldRequired: spec(400, 'ERR_NGROK_27602', 'The field "{field}" is required.'),
  nameTooLong: spec(400, 'ERR_NGROK_27603', 'The name must be at most 255 characters.'),
  metadataTooLong: spec(400, 'ERR_NGROK_27604', 'The metadata must be at most 4096 characters.'),
  invalidRouter: spec(400, 'ERR_NGROK_27605', 'Invalid router configuration: {reason}'),
  validationFailed: spec(400, 'ERR_NGROK_27606', '{reason}'),
  alreadyExists: spec(409, 'ERR_NGROK_27607', '{resource} already exists.'),
  requestCanceled: spec(499, 'ERR_NGROK_27609', 'The request was canceled.'),
  deadlineExceeded: spec(504, 'ERR_NGROK_27610', 'The request deadline was exceeded.'),
  notFound: spec(404, 'ERR_NGROK_27611', '{resource} "{id}" not found.'),
  notImplemented: spec(501, 'ERR_NGROK_27612', '{feature} is not available: {reason}'),
  upstreamServiceError: spec(502, 'ERR_NGROK_27613', 'An upstream service failed: {reason}'),
  methodNotAllowed: spec(405, 'ERR_NGROK_27614', 'Method {method} is not allowed on {path}.'),
  inUse: spec(409, 'ERR_NGROK_27615', '{resource} "{id}" is still in use by {usedBy} and cannot be deleted.'),
  purchaseInProgress: spec(409, 'ERR_NGROK_27616', 'Another credit purchase ({purchase_id}) is still unresolved: poll it instead of starting another.'),
  purchaseKeyReused: spec(409, 'ERR_NGROK_27616', 'This Idempotency-Key already started purchase {purchase_id} for a different amount; send a new key for a new purchase.'),
  purchaseKeyInvalid: spec(400, 'ERR_NGROK_27606', 'The Idempotency-Key header must be at most 255 characters.'),
  purchaseNoCard: spec(400, 'ERR_NGROK_27606', 'The account has no saved card to charge: buy credits through Checkout once to save one.'),
  unauthorized: spec(401, 'ERR_NGROK_27007', 'The API key is missing, malformed or unknown.'),
  // The key could not be looked up (the database failed): not the caller's fault, and a retry may pass.
  authenticationUnavailable: spec(500, 'ERR_NGROK_AI_GATEWAY_MANAGEMENT_TOKEN_AUTHENTICATION_UNAVAILABLE', 'Token authentication is temporarily unavailable. Retry your request shortly.'),
  routeNotFound: spec(404, 'ERR_NGROK_27611', 'Route {method} {path} not found.'),

  // --- control plane: user-defined providers (27701–27718)
  providerNameTooLong: spec(400, 'ERR_NGROK_27701', 'The provider name must be 1 to 255 characters.'),
  providerMetadataTooLong: spec(400, 'ERR_NGROK_27702', 'The provider metadata must be at most 4096 characters.'),
  providerBaseUrlTooLong: spec(400, 'ERR_NGROK_27703', 'The provider baseUrl must be 1 to 2048 characters.'),
  providerFieldRequired: spec(400, 'ERR_NGROK_27704', 'The field "{field}" is required.'),
  providerIdReserved: spec(400, 'ERR_NGROK_27705', 'Provider id "{providerId}" is reserved by a built-in provider.'),
  providerIdTooLong: spec(400, 'ERR_NGROK_27706', 'The providerId must be 1 to 255 characters.'),
  providerUnknownFormat: spec(400, 'ERR_NGROK_27707', 'Unknown API format "{format}"; expected one of: {allowed}.'),
  providerUnknownSurface: spec(400, 'ERR_NGROK_27708', 'Unknown API surface "{surface}" for format "{format}"; expected one of: {allowed}.'),
  providerModelIdTooLong: spec(400, 'ERR_NGROK_27709', 'A modelId must be 1 to 255 characters.'),
  providerInUse: spec(409, 'ERR_NGROK_27710', 'Provider "{providerId}" is referenced by {usedBy} and cannot be deleted.'),
  providerDuplicateModel: spec(400, 'ERR_NGROK_27711', 'Model "{modelId}" is listed more than once.'),
  providerIdTaken: spec(409, 'ERR_NGROK_27712', 'Provider id "{providerId}" is already used in this account.'),
  providerHostNotAllowed: spec(400, 'ERR_NGROK_27718', 'The baseUrl host is not permitted: {reason}'),

  // --- control plane: virtual models (named codes, messages as ngrok's error pages publish them)
  virtualModelNameRequired: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_REQUIRED', 'Virtual model name is required.'),
  virtualModelNameTooLong: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_TOO_LONG', 'Virtual model names can be at most {limit} characters. Got {length}.'),
  virtualModelNameIllegalCharacter: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ILLEGAL_CHARACTER', "Virtual model names can use letters, numbers, '.', '_', and '-'."),
  virtualModelNameConflict: spec(409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_CONFLICT', '{name} is already a model name.'),
  virtualModelNameExists: spec(409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ALREADY_EXISTS', 'A virtual model named {name} already exists.'),
  virtualModelTargetsOutOfRange: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGETS_OUT_OF_RANGE', 'A virtual model needs {min} to {max} models. Got {count}.'),
  virtualModelTargetDuplicated: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_DUPLICATED', '{target} is in this virtual model more than once.'),
  virtualModelTargetNotFound: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_NOT_FOUND', "{target} isn't a valid model."),
  virtualModelTargetNesting: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_NESTING_NOT_ALLOWED', "{target} is a virtual model. Virtual models can't point to other virtual models."),
  virtualModelTargetAutoMixed: spec(400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_AUTO_MIXED_NOT_ALLOWED', "'ngrok/auto' must be the only model in a virtual model."),
  virtualModelLimitExceeded: spec(409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_LIMIT_EXCEEDED', 'This account can have at most {limit} virtual models. Delete one before you create another.'),
  accessConfigVirtualModelNotAllowed: spec(400, 'ERR_NGROK_AI_GATEWAY_ACCESS_CONFIG_VIRTUAL_MODEL_NOT_ALLOWED', '{name} is a virtual model. Add its models to the key instead.'),

  // --- control plane: Firewall policies. Malformed policies answer 27606 naming the field (and the rule); ngrok's own
  // codes for them were not readable. The limit is ours (ngrok publishes none), so it has a code of the general family.
  firewallPolicyLimitExceeded: spec(409, 'ERR_NGROK_27617', 'This account can have at most {limit} Firewall policies. Delete one before you create another.'),
  // The same for custom providers and access key configurations (security review, stop 43): each is loaded whole into
  // every gateway's memory and read again on every change of the account, so an account may not hold any number of them.
  providerLimitExceeded: spec(409, 'ERR_NGROK_27719', 'This account can have at most {limit} custom providers. Delete one before you create another.'),
  configurationLimitExceeded: spec(409, 'ERR_NGROK_27618', 'This account can have at most {limit} access key configurations. Delete one before you create another.'),

  // --- control plane: MCP servers (ngrok's named codes, messages as its error pages publish them, the unmatched quote
  // included). No status is published: 409, as the sibling limits and conflicts answer.
  mcpServerLimitExceeded: spec(409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_LIMIT_EXCEEDED', 'This account can have at most {limit} MCP servers. Delete one before you create another.'),
  mcpServerProviderKeysConflict: spec(409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT', "MCP server label {label} still has provider keys. Delete its 'mcp:{label} keys before reusing or renaming it."),

  // --- credits
  stripeNotConfigured: spec(501, 'ERR_NGROK_27612', 'Credit purchases are not configured on this server: set {setting}.'),

  // --- gateway (data plane)
  accessKeyMissing: spec(401, 'ERR_NGROK_27201', 'Authentication failed: {reason}', 'authentication_error'),
  badRequestBody: spec(400, 'ERR_NGROK_3801', 'Invalid request body: {reason}', 'invalid_request_error'),
  invalidRequest: spec(400, 'ERR_NGROK_27228', 'Invalid request: {reason}', 'invalid_request_error'),
  noCredentials: spec(400, 'ERR_NGROK_3802', 'No API key found for provider "{provider}": {reason} Check your SDK / AI Gateway configuration, or add API keys to your AI Gateway.', 'invalid_request_error'),
  noProviderKeys: spec(400, 'ERR_NGROK_27202', 'No keys available for provider "{provider}".', 'invalid_request_error'),
  managedUncataloged: spec(400, 'ERR_NGROK_27233', 'Model "{model}" is not available with a managed key for provider "{provider}": add your own provider key to use uncataloged models.', 'invalid_request_error'),
  managedServiceTier: spec(400, 'ERR_NGROK_3815', 'service_tier "{tier}" is not supported with managed keys. Use \'{allowed}\' on {format} requests (or omit it), or add your own provider key.', 'invalid_request_error'),
  managedBackground: spec(400, 'ERR_NGROK_27238', 'A managed key can\'t serve this request, because this gateway can\'t bill "background": true for "{model}" on provider "{provider}" (a background response is generated after this request ends, where the gateway cannot meter it). Omit it, or add your own provider key to use it.', 'invalid_request_error'),
  managedHostedTool: spec(400, 'ERR_NGROK_27238', 'A managed key can\'t serve this request, because this gateway can\'t bill the hosted tool "{tool}" for "{model}" on provider "{provider}" (the provider bills it apart from tokens). Leave the tool out, or add your own provider key to use it.', 'invalid_request_error'),
  managedPremium: spec(400, 'ERR_NGROK_27238', 'A managed key can\'t serve this request, because this gateway can\'t bill {option} for "{model}" on provider "{provider}" (the provider bills it at a price of its own). Leave it out, or add your own provider key to use it.', 'invalid_request_error'),
  // ngrok's page (no status given: the request's own, as 27238's). "ngrok-managed keys" reads "managed keys" here.
  managedStoredState: spec(400, 'ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED', 'Managed keys don\'t keep responses between requests, so they can\'t use `{field}`. Send the full conversation and instructions in each request, or add your own {provider} key.', 'invalid_request_error'),
  // ngrok's managed inference on Gemini Interactions (its changelog): text in, text or JSON out, whatever else the model takes.
  managedTextOnly: spec(400, 'ERR_NGROK_27238', 'A managed key can\'t serve this request: on Gemini Interactions it takes text input and gives text or JSON output only, and this request {what} for "{model}" on provider "{provider}". Send text only, or add your own provider key to use it.', 'invalid_request_error'),
  managedNotConfigured: spec(400, 'ERR_NGROK_3819', 'Provider "{provider}" requires setup to use this managed key. Put a "{provider}" provider key in its routing rule in place of the managed step, or pick a provider this gateway serves with managed keys: {supported}.', 'invalid_request_error'),
  managedKeyUnset: spec(400, 'ERR_NGROK_27239', 'This gateway can\'t serve "{model}" on provider "{provider}" with a managed key right now (its operator has set none for the provider). Add your own provider key to use it.', 'invalid_request_error'),
  unsupportedPath: spec(404, 'ERR_NGROK_27204', 'Unsupported API surface "{path}" ({method}).{hint}', 'invalid_request_error'),
  creditCheckFailed: spec(403, 'ERR_NGROK_27206', 'Credit check failed: {reason}', 'permission_error'),
  outOfCredit: spec(403, 'ERR_NGROK_4026', 'Your account has run out of credit.', 'insufficient_quota'),
  // Same code (the contract has one for "no credit"), but a balance is left: the client should learn it is
  // transient — requests in flight hold the rest until they finish — not that the account is empty.
  creditHeldInFlight: spec(403, 'ERR_NGROK_4026', 'Your account\'s remaining credit is held by requests still in flight; retry when they finish, or add credit.', 'insufficient_quota'),
  // A realtime response the provider started by itself (server VAD) with the credit gone: the credit refusal ({reason},
  // either message above), naming the response, which no event of the client's asked for.
  realtimeResponseUnpaid: spec(403, 'ERR_NGROK_4026', '{reason} The response {responseId}, which the provider started by itself (server voice activity detection), is cancelled.', 'insufficient_quota'),
  unknownModel: spec(400, 'ERR_NGROK_27224', 'Unknown model "{model}".{suggestion}', 'invalid_request_error'),
  unknownProvider: spec(400, 'ERR_NGROK_27225', 'Unknown provider "{provider}".', 'invalid_request_error'),
  providerLacksSurface: spec(400, 'ERR_NGROK_27226', 'Provider "{provider}" does not support API surface "{surface}".', 'invalid_request_error'),
  modelLacksSurface: spec(400, 'ERR_NGROK_27226', 'Model "{model}" of provider "{provider}" does not support API surface "{surface}" (other models of provider "{provider}" do).', 'invalid_request_error'),
  // ngrok's answer for a request no selected model can serve in its API format (Gemini's native API: only Google's
  // models speak it, and no translation reaches it).
  noCompatibleModels: spec(400, 'ERR_NGROK_3813', 'The gateway did not select any models compatible with the {format} API format ("{provider}:{model}" does not serve it). Update the gateway configuration to include providers/models that support the {format} format: Google\'s Gemini models.', 'invalid_request_error'),
  notTranslatable: spec(400, 'ERR_NGROK_27226', 'Model "{model}" of provider "{provider}" does not support API surface "{surface}", and this request cannot be translated for it: {reason}.', 'invalid_request_error'),
  // 27226 all the same (the model lacks the surface the request needs, and translation cannot stand in), but the
  // answer Anthropic gives for a thread it does not hold: a 404 with `thread_not_found`, on which the Anthropic SDK's
  // thread helper replays the whole conversation — which a translated model can then serve.
  threadNotHeld: spec(404, 'ERR_NGROK_27226', 'Model "{model}" of provider "{provider}" does not support API surface "{surface}", and a message thread cannot be continued through translation: no usable thread state was found for previous_message_id "{id}" (a thread is held by Anthropic). Replay the full conversation with thread: {"type": "create"} or without a thread, or pick a model that serves Messages.', 'invalid_request_error', 'thread_not_found'),
  invalidModelAddress: spec(400, 'ERR_NGROK_27229', 'Invalid model address "{address}".', 'invalid_request_error'),
  unknownModelOrProvider: spec(400, 'ERR_NGROK_27230', '"{model}" is not a known model, and "{provider}" is not a recognized provider.', 'invalid_request_error'),
  providerNotAllowed: spec(403, 'ERR_NGROK_27231', 'Provider "{provider}" is not allowed by the access policy.{hint}', 'permission_error'),
  modelNotAllowed: spec(403, 'ERR_NGROK_27232', 'Model "{model}" is not allowed by the access policy.{hint}', 'permission_error'),
  configurationGone: spec(403, 'ERR_NGROK_27231', 'The access key\'s configuration "{id}" no longer exists, so its access policy allows nothing; link the key to another configuration.', 'permission_error'),
  inputTooLarge: spec(413, 'ERR_NGROK_3811', 'Input too large: {tokens} tokens (max {max}). Shorten your prompt. See https://ngrok.com/docs/ai-gateway/reference/error-codes#err_ngrok_3811 for more information.', 'invalid_request_error'),
  // Both planes: a body over this server's limit, refused before anything reads it (ngrok's page, changelog
  // 2026-10-14). 27215 is the provider's limit, whose own 413 is relayed as it answered.
  requestBodyTooLong: spec(413, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG', 'Request body is too long. Max {limit}.', 'invalid_request_error'),
  allProvidersFailed: spec(503, 'ERR_NGROK_3807', 'All providers failed: {errors}', 'api_error'),
  totalTimeout: spec(504, 'ERR_NGROK_3810', 'Request timed out after {timeout}. Try a shorter prompt or increase your timeout. See https://ngrok.com/docs/ai-gateway/reference/error-codes#err_ngrok_3810 for more information.', 'timeout_error'),
  upstreamUnreachable: spec(502, 'ERR_NGROK_3800', 'Could not reach the AI provider "{provider}". The upstream request failed: {reason}', 'api_error'),
  upstreamRateLimited: spec(429, 'ERR_NGROK_27217', 'Upstream provider rate limit exceeded: {reason}', 'rate_limit_error'),
  // The provider's own type for it (OpenAI's), which the SDKs and LangChain read as "stop retrying, fix billing".
  upstreamQuotaExhausted: spec(429, 'ERR_NGROK_27217', 'Upstream provider quota exhausted: {reason}', 'insufficient_quota'),
  upstreamAuthRejected: spec(502, 'ERR_NGROK_27211', 'Upstream provider rejected the API key: {reason}', 'api_error'),
  upstreamTimeout: spec(504, 'ERR_NGROK_27207', 'Upstream request timed out after {timeout}.', 'timeout_error'),
  upstreamNonStreaming: spec(502, 'ERR_NGROK_27234', 'The upstream answered a streaming request without a stream.', 'api_error'),
  upstreamStreamBroken: spec(502, 'ERR_NGROK_27235', 'The upstream stream ended unexpectedly: {reason}', 'api_error'),
  // An answer the gateway holds whole (JSON, to meter or translate it) past what it holds: streams are not held.
  upstreamResponseTooLong: spec(502, 'ERR_NGROK_AI_GATEWAY_UPSTREAM_RESPONSE_TOO_LONG', 'The provider\'s response is too long. Max {limit}. Stream the response, or ask for less output.', 'api_error'),
  // ngrok's page gives no status: the provider's answer is what is wrong (502, as for an answer too long). The tool is
  // as the client named it; its arguments are not repeated (they may be long, and they are the model's, not the client's).
  // An answer Bedrock itself could not read (Converse's `malformed_model_output`), for a client whose format has no
  // stop reason for it (translate/messages-via-converse.ts): ngrok's code for an upstream that failed, not a success
  // with whatever came. Retried as any 502: the model may write a readable answer the next time.
  modelOutputMalformed: spec(502, 'ERR_NGROK_27613', 'An upstream service failed: {reason}', 'api_error'),
  toolCallArgumentsInvalid: spec(502, 'ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID', 'The model wrote arguments for tool `{tool}` that aren\'t {reason}. A model at its output token limit can stop inside the arguments.', 'api_error'),
  routingLoop: spec(508, 'ERR_NGROK_27237', 'Request rejected: a routing loop was detected. Double check your custom provider URLs do not cause an infinite proxy loop.', 'invalid_request_error'),
  managedUnpriced: spec(400, 'ERR_NGROK_27236', 'Model "{model}" is not available with a managed key for provider "{provider}": it has no published price to bill; add your own provider key to use it.', 'invalid_request_error'),
  internal: spec(500, 'ERR_NGROK_27009', 'Internal error; retry the request.', 'api_error'),
  // A server-side fault (the key was sealed under another TOLLGATE_SECRET_KEY: a rotation with a gateway running,
  // a gateway started with the wrong key), not the client's routing: retrying will not help until the operator acts.
  providerKeyUnreadable: spec(500, 'ERR_NGROK_27009', 'The stored API key for provider "{provider}" cannot be decrypted by this gateway (it was sealed under another TOLLGATE_SECRET_KEY); the operator must start the gateway with the key it was sealed under, or store the provider key again.', 'api_error'),
  // Realtime sessions (WebSocket, /v1/realtime): ngrok's named codes, messages as its error pages publish them. No
  // status is published: a refusal before the upgrade answers with the one given here; a limit that ends a session is
  // told in an `error` event, where only the code and message count.
  realtimeAutoModelUnsupported: spec(400, 'ERR_NGROK_AI_GATEWAY_REALTIME_AUTO_MODEL_UNSUPPORTED', "Realtime sessions can't use 'ngrok/auto'. Name a model in the 'model' query parameter.", 'invalid_request_error'),
  realtimeCustomProviderUnsupported: spec(400, 'ERR_NGROK_AI_GATEWAY_REALTIME_CUSTOM_PROVIDER_UNSUPPORTED', 'Realtime sessions serve only built-in providers. {provider} is a custom provider. Use a model from a built-in provider.', 'invalid_request_error'),
  realtimeSessionIdleLimitExceeded: spec(408, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_IDLE_LIMIT_EXCEEDED', 'This realtime session had no data frames for {limit}. Open a new session to continue.', 'timeout_error'),
  realtimeSessionDurationLimitExceeded: spec(408, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_DURATION_LIMIT_EXCEEDED', 'This realtime session reached its {limit} duration limit. Open a new session to continue.', 'timeout_error'),
  realtimeSessionsLimitExceeded: spec(429, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSIONS_LIMIT_EXCEEDED', 'This account reached its limit of {limit} concurrent realtime sessions. Close an active session, or request a higher limit.', 'rate_limit_error'),
  // RFC 9110 §15.5.22: the path is served, over another protocol (no ngrok code is published for it: its invalid-request one).
  realtimeUpgradeRequired: spec(426, 'ERR_NGROK_27228', 'Invalid request: /v1/realtime is a WebSocket endpoint. Open it with a WebSocket upgrade (GET with "Upgrade: websocket", HTTP/1.1), as the OpenAI SDK\'s realtime clients do.', 'invalid_request_error'),
  // A session on the account's own provider key, once that key is deleted or its value replaced: the session speaks
  // with a secret the account retired. No ngrok code is published for it: 27202, the one for a provider without keys
  // (as configurationGone borrows 27231); the key is named by id, never by anything of its secret.
  realtimeProviderKeyRetired: spec(403, 'ERR_NGROK_27202', 'Provider key "{id}" for provider "{provider}", which this realtime session was opened with, was {change}, so the session ended. Open a new session to continue.', 'permission_error'),
  // A message still arriving (either way) that the gateway could not hold beside the other answers and messages it
  // holds (exchange.ts HeldAnswers): its capacity is short, as gatewayBusy's — the same code, the session's end told.
  realtimeMessageUnheld: spec(503, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE', 'The AI gateway is busy: {reason} The session ended; open a new one to continue.', 'api_error'),
  // The client's message over the same limit: ngrok's code for a request body too long (none is published for a
  // realtime message of the client's), told before the 1009 close that ends the session.
  realtimeClientFrameTooLong: spec(413, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG', 'A realtime message the client sent is over the {limit} limit, so the session ended. Open a new session to continue; send audio in smaller appends.', 'invalid_request_error'),
  // Any other frame of the client's that `ws` refuses (invalid UTF-8 in a text message, a reserved opcode, an unmasked
  // frame, a bad close code): ngrok's code for an invalid request (none is published for it), told before ws's close
  // (1007, 1002) ends the session.
  realtimeClientFrameInvalid: spec(400, 'ERR_NGROK_27228', 'Invalid request: a WebSocket frame the client sent is malformed ({reason}), so the session ended. Open a new session to continue.', 'invalid_request_error'),
  realtimeUpstreamFrameTooLong: spec(502, 'ERR_NGROK_AI_GATEWAY_REALTIME_UPSTREAM_FRAME_TOO_LONG', 'The provider sent a realtime message over the {limit} limit.', 'api_error'),
  // A frame of the provider's that `ws` refuses (invalid UTF-8, a reserved opcode, a masked frame, a bad close code):
  // the provider broke the stream it serves the session on, as an HTTP stream that breaks off does — ngrok's code and
  // words for that (27235; none is published for a realtime frame), told before the 1011 close that ends the session.
  realtimeUpstreamFrameInvalid: spec(502, 'ERR_NGROK_27235', 'The upstream stream ended unexpectedly: the provider sent a malformed WebSocket frame ({reason}), so the session ended. Open a new session to continue.', 'api_error'),
  gatewayStopping: spec(503, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE', 'The AI gateway is busy. Retry the request.', 'api_error'),
  // Every answer of the request came while the gateway held as much of other answers as it holds at once (exchange.ts,
  // HeldAnswers): its capacity, not the answer, is short — ngrok's code for a busy gateway, which SDKs retry.
  gatewayBusy: spec(503, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE', 'The AI gateway is busy. Retry the request.', 'api_error'),
  // ngrok's error-codes page: "Failed to validate API key. Please try again later." (a 500, the SDKs retry it).
  // A Bedrock key backed by an IAM role (gateway/bedrock-role.ts): ngrok's named codes, messages as its error pages
  // publish them (STS_REGION_NOT_CONFIGURED's page gives none: the operator's setting is named). No status is published:
  // the key's setup is unfinished (400, as a managed key unset), AWS refused the role (502, as a provider refusing a
  // key), the operator's configuration lacks a region (500).
  bedrockKeyRoleArnRequired: spec(400, 'ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_ARN_REQUIRED', "Bedrock key {keyId} has no IAM role yet. Finish the role setup: create the role, then set 'aws.roleArn' on the key.", 'invalid_request_error'),
  bedrockKeyRoleDenied: spec(502, 'ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_DENIED', "AWS refused to let ngrok assume the IAM role of Bedrock key {keyId}. The role must exist and trust ngrok's principal with the key's external ID.", 'api_error'),
  providerKeyAwsExternalIdNotConfigured: spec(502, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_EXTERNAL_ID_NOT_CONFIGURED', "The trust policy of the role in 'aws.roleArn' accepts any external ID. Add a condition that sts:ExternalId equals {externalId}.", 'api_error'),
  providerKeyAwsStsRegionNotConfigured: spec(502, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_STS_REGION_NOT_CONFIGURED', "AWS STS isn't active in region {region} for the AWS account of the role. Activate the region, or set 'aws.region' to another region.", 'api_error'),
  bedrockKeyStsRegionNotConfigured: spec(500, 'ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_STS_REGION_NOT_CONFIGURED', 'No AWS STS region is configured for Bedrock key {keyId}: the key names no region and the operator set no TOLLGATE_AWS_STS_REGION.', 'api_error'),
  accessKeysUnavailable: spec(500, 'ERR_NGROK_27009', 'Failed to validate API key. Please try again later.', 'api_error'),
  // Billing on, an account's first balance read failed or went unanswered (the database down or silent): nothing of it
  // can be admitted without a figure. As a key that cannot be looked up: the store's outage, told "try again later"
  // with ngrok's code for it (a 500, which the OpenAI and Anthropic SDKs retry as they retry a 503).
  creditBalanceUnavailable: spec(500, 'ERR_NGROK_27009', 'Failed to read your account\'s credit balance. Please try again later.', 'api_error'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof Errors;

/** A typed failure carrying its catalogue entry; thrown by stages and rendered by each plane's own error writer. */
export class TollgateError extends Error {
  readonly spec: ErrorSpec;
  readonly details: Record<string, string>;
  readonly status: number;
  readonly code: string;

  constructor(spec: ErrorSpec, details: Record<string, string> = {}, status?: number) {
    // No stack: the code names the failure, and capturing one was the costliest step of answering a request
    // that fails early (~13 % of a 401's CPU) — the answer a flood of bad keys gets.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(fill(spec.template, details));
    Error.stackTraceLimit = limit;
    this.name = 'TollgateError';
    this.spec = spec;
    this.details = echoedDetails(details);
    this.status = status ?? spec.status;
    this.code = spec.code;
  }
}

export function fail(name: ErrorName, details: Record<string, string> = {}): never {
  throw new TollgateError(Errors[name], details);
}

export function tollgateError(name: ErrorName, details: Record<string, string> = {}): TollgateError {
  return new TollgateError(Errors[name], details);
}

/** Values a client chooses (a model name, a path): echoed into a message, each is kept to this many characters. */
const ECHO_LIMIT = 256;
/**
 * The details whose values a client chooses, cut (`echoed`) in a message and in the details alike: a model name, a
 * path, and so on, `id` (a path's or a body's reference to a resource), `field` (a member name a body invented),
 * `providerId` and `format` (a provider key's provider and a surface's format, which no schema bounds) included —
 * the control plane's request line carries an id of up to 16 KB and its body a key of up to 1 MB, which would come
 * back two or three times over (message, details, reason).
 */
const CLIENT_CHOSEN = new Set(['model', 'address', 'provider', 'providerId', 'format', 'path', 'method', 'surface', 'id', 'field']);

/** A client's value as a message repeats it: a 5,000-character model name does not come back whole. */
export function echoed(value: string): string {
  return cutText(value, ECHO_LIMIT);
}

/** `value` kept to `limit` units (never half an emoji: textPrefix), saying how many more there were. */
export function cutText(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const kept = textPrefix(value, limit);
  return `${kept}…[${value.length - kept.length} more]`;
}

/**
 * The first `limit` UTF-16 units of `value`, one fewer where the last would be the first half of a character outside
 * the BMP (an emoji): half of one is an unpaired surrogate, which JSON carries as `\ud83d` and strict decoders refuse.
 */
export function textPrefix(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const last = value.charCodeAt(limit - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? limit - 1 : limit);
}

/** `text` with any unpaired surrogate (a JSON escape may hold one whole) replaced by U+FFFD: strict JSON readers take it. */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** The details an error body carries (the control plane's `details`), client-chosen values kept as a message keeps them. */
function echoedDetails(details: Record<string, string>): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(details)) {
    if (!CLIENT_CHOSEN.has(key) || value.length <= ECHO_LIMIT) continue;
    out ??= { ...details };
    out[key] = echoed(value);
  }
  return out ?? details;
}

function fill(template: string, details: Record<string, string>): string {
  // `suggestion` and `hint` are optional endings: absent, they leave nothing.
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = details[key];
    if (value === undefined) return key === 'suggestion' || key === 'hint' ? '' : whole;
    return CLIENT_CHOSEN.has(key) ? echoed(value) : value;
  });
}
