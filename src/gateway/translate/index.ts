// Which translator serves a request, if any: only when the candidate's upstream surface is not the client's
// (domain/resolve.ts picks a translated surface only when the model serves no native one).
import type { ApiSurface, SurfaceSpec } from '../../catalog/types.ts';
import { chatViaMessages } from './chat-via-messages.ts';
import { messagesViaChat } from './messages-via-chat.ts';
import { responsesViaChat } from './responses-via-chat.ts';
import type { Translator } from './types.ts';

export type { StreamTranslation, TranslationScope, Translator } from './types.ts';
export { untranslatableReason, withStoredItemsInline } from './stored-items.ts';

export function translatorFor(client: ApiSurface, upstream: SurfaceSpec): Translator | undefined {
  if (upstream.surface === client) return undefined;
  if (upstream.surface === 'chat-completions') return client === 'messages' ? messagesViaChat : client === 'responses' ? responsesViaChat : undefined;
  return client === 'chat-completions' && upstream.surface === 'messages' ? chatViaMessages : undefined;
}
