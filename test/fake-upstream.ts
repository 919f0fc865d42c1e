// The fake provider used by the gateway tests lives in src/demo (the demo runs it too); tests import it here.
export { FAKE_JUDGE_USAGE, FAKE_SAID, startFakeProvider, type FakeProvider, type RecordedRequest } from '../src/demo/fake-provider/server.ts';
export { FAKE_ADVISOR_USAGE, FAKE_REFUSAL, FAKE_THINKING, FAKE_TOKEN_COUNT, FAKE_TOOL_INPUT, FAKE_USAGE, FAKE_WEB_SEARCHES } from '../src/demo/fake-provider/wire.ts';
export { FAKE_GEMINI_TOKEN_COUNT, FAKE_GEMINI_USAGE, FAKE_INTERACTIONS_USAGE } from '../src/demo/fake-provider/gemini.ts';
