import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateRawRequestInputTokens, estimateRequestInputTokens, estimateTokens } from './tokens.ts';
import { inputTokensUpperBound } from './token-bounds.ts';
import { AUDIO_TOKENS_PER_SECOND, DOCUMENT_MAX_TOKENS, IMAGE_MAX_TOKENS, imageTokens, mediaCharsDecoded, PAGE_TOKENS, UNKNOWN_LENGTH_TOKENS, VIDEO_TOKENS_PER_SECOND } from './media-tokens.ts';

test('estimateTokens uses o200k_base', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('Hello, world!'), 4);
  const long = 'word '.repeat(1000);
  assert.ok(Math.abs(estimateTokens(long) - 1000) <= 2);
});

test('chat and messages count system and every message', () => {
  const chat = estimateRequestInputTokens({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hello, world!' }] }] }, 'chat-completions');
  assert.equal(chat, 4 + estimateTokens('Be brief.') + 4 + 4);
  const messages = estimateRequestInputTokens({ system: [{ type: 'text', text: 'Be brief.' }], messages: [{ role: 'user', content: 'Hello, world!' }] }, 'messages');
  assert.equal(messages, estimateTokens('Be brief.') + 4 + 4);
});

test('responses, completions and embeddings', () => {
  assert.equal(estimateRequestInputTokens({ input: 'Hello, world!', instructions: 'Be brief.' }, 'responses'), 4 + estimateTokens('Be brief.'));
  assert.equal(estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello, world!' }] }] }, 'responses'), 8);
  assert.equal(estimateRequestInputTokens({ prompt: ['Hello, world!', 'Hello, world!'] }, 'completions'), 8);
  assert.equal(estimateRequestInputTokens({ input: [[1, 2, 3]] }, 'embeddings'), 3);
  assert.equal(estimateRequestInputTokens({}, 'chat-completions'), 0);
});

test('a big input grows the estimate roughly linearly', () => {
  const text = 'lorem ipsum dolor sit amet '.repeat(20_000);
  const n = estimateRequestInputTokens({ messages: [{ role: 'user', content: text }] }, 'chat-completions');
  assert.ok(n > 100_000, String(n));
});

test('the byte bound admission relies on is never below the estimate', () => {
  const cases: [Record<string, unknown>, Parameters<typeof estimateRequestInputTokens>[1]][] = [
    [{ messages: [{ role: 'user', content: '' }, { role: 'assistant', content: '' }, { role: 'user', content: 'x' }] }, 'chat-completions'],
    [{ messages: ['a', 'b', 'c'] }, 'chat-completions'],
    [{ messages: [{ role: 'user', content: '日本語のテキスト、絵文字 🎉🎉🎉 и кириллица' }] }, 'chat-completions'],
    [{ system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'a b c d e f g' }] }], tools: [{ name: 't', input_schema: {} }] }, 'messages'],
    [{ instructions: 'x', input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', output: '{"a":1}' }] }, 'responses'],
    [{ input: [[1, 2, 3, 4, 5, 6, 7, 8, 9]] }, 'embeddings'],
    [{ prompt: ['one', 'two', 'three'] }, 'completions'],
    // Degenerate bodies whose framing and re-serialised JSON outgrow their bytes: the count is clamped.
    [{ messages: Array.from({ length: 1000 }, () => ({})) }, 'chat-completions'],
    [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { maximum: 1e300 } } }] }, 'chat-completions'],
  ];
  for (const [body, surface] of cases) {
    const raw = Buffer.from(JSON.stringify(body));
    const estimate = estimateRawRequestInputTokens(raw, surface);
    assert.ok(estimate <= inputTokensUpperBound(raw, body), `${surface}: estimate ${estimate} > ${raw.length} bytes`);
    assert.ok(estimate > 0);
  }
  const ordinary = { messages: [{ role: 'user', content: 'How many tokens is this?' }] };
  assert.equal(estimateRawRequestInputTokens(Buffer.from(JSON.stringify(ordinary)), 'chat-completions'), estimateRequestInputTokens(ordinary, 'chat-completions'));
});

test('special-token text in a prompt is counted as ordinary text, not refused', () => {
  assert.ok(estimateTokens('hi <|endoftext|> there') > 3);
});

test('what the model reads besides messages counts: function definitions, structured-output schemas, a legacy function call', () => {
  const schema = { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', description: 'word '.repeat(500) } } };
  const long = (tokens: number) => tokens >= 500;
  const bare = estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }] }, 'chat-completions');
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], response_format: schema }, 'chat-completions') - bare));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'f', description: 'word '.repeat(500) }] }, 'chat-completions') - bare));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'assistant', content: null, function_call: { name: 'f', arguments: 'word '.repeat(500) } }] }, 'chat-completions')));
  assert.ok(long(estimateRequestInputTokens({ input: 'hi', text: { format: { type: 'json_schema', name: 'a', schema: schema.json_schema.schema } } }, 'responses')));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], output_format: { type: 'json_schema', schema: schema.json_schema.schema } }, 'messages')));
});

test('a Responses request\'s tool history counts whatever form it takes: outputs given as parts, a freeform call\'s input, a refusal', () => {
  const long = 'the quick brown fox jumps over the lazy dog '.repeat(50);
  const size = estimateTokens(long);
  const bare = estimateRequestInputTokens({ input: [{ type: 'function_call_output', call_id: 'c', output: [] }] }, 'responses');
  // A tool output as an array of parts (the Vercel AI SDK sends them so, Codex too).
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: long }] }] }, 'responses'), bare + size);
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'custom_tool_call_output', call_id: 'c', output: [{ type: 'input_text', text: long }] }] }, 'responses'), bare + size);
  // Codex's apply_patch call: the patch is in `input`.
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', input: long }] }, 'responses'), bare + size);
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: long }] }] }, 'responses'), bare + size);
});

test('a Gemini request counts the same in Google\'s REST spelling (system_instruction, function_call, function_response, response_schema) as in the SDK\'s', () => {
  const long = 'Answer as a pirate would, at length. '.repeat(40);
  const camel = {
    systemInstruction: { parts: [{ text: long }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: long } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: long } } }] },
    ],
    tools: [{ functionDeclarations: [{ name: 'get_weather', description: long }] }],
    generationConfig: { responseSchema: { type: 'OBJECT', description: long } },
  };
  const snake = {
    system_instruction: { parts: [{ text: long }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [{ function_call: { name: 'get_weather', args: { city: long } } }] },
      { role: 'user', parts: [{ function_response: { name: 'get_weather', response: { output: long } } }] },
    ],
    tools: [{ function_declarations: [{ name: 'get_weather', description: long }] }],
    generation_config: { response_schema: { type: 'OBJECT', description: long } },
  };
  const expected = estimateRequestInputTokens(camel, 'generate-content');
  assert.ok(expected > 5 * estimateTokens(long), `every piece is counted (${expected})`);
  const got = estimateRequestInputTokens(snake, 'stream-generate-content');
  // The tool JSON differs by its key's spelling by a token or two; nothing else may.
  assert.ok(Math.abs(got - expected) <= 3, `${got} vs ${expected}`);
  // Google reads a lone Content (and a lone Part) as a list of one.
  assert.equal(estimateRequestInputTokens({ contents: { parts: { text: long } } }, 'generate-content'), estimateRequestInputTokens({ contents: [{ parts: [{ text: long }] }] }, 'generate-content'));
});

test('a Gemini Interactions request counts its system instruction and response format under either of Google\'s names', () => {
  const long = 'Answer as a pirate would, at length. '.repeat(40);
  const schema = { type: 'object', description: long };
  const snake = estimateRequestInputTokens({ input: 'hi', system_instruction: long, response_format: schema }, 'interactions');
  assert.ok(snake > 2 * estimateTokens(long), `both are counted (${snake})`);
  const camel = estimateRequestInputTokens({ input: 'hi', systemInstruction: long, responseFormat: schema }, 'interactions');
  assert.equal(camel, snake);
});

// Media parts: held at the documented bounds of media-tokens.ts (docs/decisions/gateway-routing.md, "Media in the estimate").
const png = (width: number, height: number, filler = 0): string => {
  const head = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(head, 0);
  head.writeUInt32BE(13, 8);
  head.write('IHDR', 12, 'latin1');
  head.writeUInt32BE(width, 16);
  head.writeUInt32BE(height, 20);
  return Buffer.concat([head, Buffer.alloc(filler)]).toString('base64');
};
const jpeg = (width: number, height: number): string => {
  // SOI, an APP0 segment of 16 bytes, an APP1 (EXIF) of 1,000, then SOF0 with the size.
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0x03, 0xe8]), Buffer.alloc(998)]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, app1, sof, Buffer.alloc(64)]).toString('base64');
};
const webp = (width: number, height: number): string => {
  const head = Buffer.alloc(30);
  head.write('RIFF', 0, 'latin1');
  head.write('WEBPVP8X', 8, 'latin1');
  head.writeUIntLE(width - 1, 24, 3);
  head.writeUIntLE(height - 1, 27, 3);
  return head.toString('base64');
};
const gif = (width: number, height: number): string => {
  const head = Buffer.from('GIF89a\0\0\0\0', 'latin1');
  head.writeUInt16LE(width, 6);
  head.writeUInt16LE(height, 8);
  return Buffer.concat([head, Buffer.alloc(20)]).toString('base64');
};

test('image tokens: the largest of the families’ documented counts', () => {
  // 1600×1200: OpenAI tiles 85 + 4 × 170 = 765; OpenAI patches 50 × 38 = 1,900 → capped 1,536 × 2.46 = 3,779;
  // Claude max(1600 × 1200 / 750 = 2,560, 58 × 43 = 2,494); Gemini 3 × 2 tiles × 258 = 1,548, Gemini 3's 2,240.
  assert.equal(imageTokens(1600, 1200), 3779);
  // 200×100: everything small but Gemini 3's media resolution (2,240).
  assert.equal(imageTokens(200, 100), 2240);
  // 3000×2000: Claude's (3,000 × 2,000) / 750 = 8,000, capped at its 5,000.
  assert.equal(imageTokens(3000, 2000), IMAGE_MAX_TOKENS);
  // 4000×4000: Gemini 2's 6 × 6 tiles × 258 = 9,288.
  assert.equal(imageTokens(4000, 4000), 9288);
});

test('chat: image, audio and file parts add their bounds to the text', () => {
  const text = { type: 'text', text: 'What is in this?' };
  const chat = (...parts: unknown[]) => estimateRequestInputTokens({ messages: [{ role: 'user', content: [text, ...parts] }] }, 'chat-completions');
  const alone = chat();
  assert.equal(chat({ type: 'image_url', image_url: { url: `data:image/png;base64,${png(1600, 1200)}` } }) - alone, 3779);
  assert.equal(chat({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${jpeg(1600, 1200)}`, detail: 'low' } }) - alone, 3779);
  assert.equal(chat({ type: 'image_url', image_url: { url: `data:image/gif;base64,${gif(200, 100)}` } }) - alone, 2240);
  assert.equal(chat({ type: 'image_url', image_url: { url: `data:image/webp;base64,${webp(4000, 4000)}` } }) - alone, 9288);
  // An address: the size is unknown, so the most any family counts for an image.
  assert.equal(chat({ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }) - alone, IMAGE_MAX_TOKENS);
  // A header that is not an image's: unknown size too.
  assert.equal(chat({ type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.alloc(300).toString('base64')}` } }) - alone, IMAGE_MAX_TOKENS);
  // 160,000 bytes of MP3: at most 160 s at 8 kbit/s, 32 tokens a second; WAV (PCM) at least 8,000 bytes a second: 20 s.
  const audio = Buffer.alloc(160_000).toString('base64');
  assert.equal(chat({ type: 'input_audio', input_audio: { data: audio, format: 'mp3' } }) - alone, 160 * AUDIO_TOKENS_PER_SECOND);
  assert.equal(chat({ type: 'input_audio', input_audio: { data: audio, format: 'wav' } }) - alone, 20 * AUDIO_TOKENS_PER_SECOND);
  // A 20,000-byte PDF: about a token a byte, at least one page (8,000); by id, unknown: 100 pages.
  const pdf = Buffer.alloc(20_000).toString('base64');
  assert.equal(chat({ type: 'file', file: { file_data: `data:application/pdf;base64,${pdf}`, filename: 'a.pdf' } }) - alone, 20_000);
  assert.equal(chat({ type: 'file', file: { file_id: 'file-1' } }) - alone, DOCUMENT_MAX_TOKENS);
  assert.equal(DOCUMENT_MAX_TOKENS, 100 * PAGE_TOKENS);
});

test('responses: input_image and input_file, also inside a tool output', () => {
  const bare = estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Describe.' }] }] }, 'responses');
  const withImage = estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Describe.' }, { type: 'input_image', image_url: `data:image/png;base64,${png(1600, 1200)}`, detail: 'auto' }] }] }, 'responses');
  assert.equal(withImage - bare, 3779);
  const byId = estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Describe.' }, { type: 'input_image', file_id: 'file-1' }] }] }, 'responses');
  assert.equal(byId - bare, IMAGE_MAX_TOKENS);
  const file = estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Describe.' }, { type: 'input_file', file_url: 'https://example.com/a.pdf' }] }] }, 'responses');
  assert.equal(file - bare, DOCUMENT_MAX_TOKENS);
  const output = (parts: unknown[]) => estimateRequestInputTokens({ input: [{ type: 'function_call_output', call_id: 'c', output: parts }] }, 'responses');
  assert.equal(output([{ type: 'input_image', image_url: 'https://example.com/a.png' }]) - output([]), IMAGE_MAX_TOKENS);
});

test('messages: image and document blocks, also inside a tool result; a text document is counted as text', () => {
  const words = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
  const messages = (...blocks: unknown[]) => estimateRequestInputTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Read this.' }, ...blocks] }] }, 'messages');
  const alone = messages();
  assert.equal(messages({ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: jpeg(3000, 2000) } }) - alone, IMAGE_MAX_TOKENS);
  assert.equal(messages({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1600, 1200) } }) - alone, 3779);
  assert.equal(messages({ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }) - alone, IMAGE_MAX_TOKENS);
  const pdf = Buffer.alloc(300_000).toString('base64');
  assert.equal(messages({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } }) - alone, 300_000);
  assert.equal(messages({ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }) - alone, DOCUMENT_MAX_TOKENS);
  assert.equal(messages({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: words } }) - alone, estimateTokens(words));
  assert.equal(messages({ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] }) - messages({ type: 'tool_result', tool_use_id: 't', content: [] }), IMAGE_MAX_TOKENS);
});

test('gemini: inlineData / inline_data and fileData parts, by media type', () => {
  const gemini = (...parts: unknown[]) => estimateRequestInputTokens({ contents: [{ role: 'user', parts: [{ text: 'Describe.' }, ...parts] }] }, 'generate-content');
  const alone = gemini();
  assert.equal(gemini({ inlineData: { mimeType: 'image/png', data: png(1600, 1200) } }) - alone, 3779);
  assert.equal(gemini({ inline_data: { mime_type: 'image/png', data: png(4000, 4000) } }) - alone, 9288);
  // 64,000 bytes of MP3: ≤ 64 s at 32 tokens; of MP4: ≤ 64 s at 263.
  const media = Buffer.alloc(64_000).toString('base64');
  assert.equal(gemini({ inlineData: { mimeType: 'audio/mp3', data: media } }) - alone, 64 * AUDIO_TOKENS_PER_SECOND);
  assert.equal(gemini({ inlineData: { mimeType: 'video/mp4', data: media } }) - alone, 64 * VIDEO_TOKENS_PER_SECOND);
  assert.equal(gemini({ fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/a.jpg' } }) - alone, IMAGE_MAX_TOKENS);
  assert.equal(gemini({ file_data: { mime_type: 'video/mp4', file_uri: 'https://www.youtube.com/watch?v=x' } }) - alone, UNKNOWN_LENGTH_TOKENS);
  assert.equal(gemini({ fileData: { mimeType: 'application/pdf', fileUri: 'gs://b/a.pdf' } }) - alone, DOCUMENT_MAX_TOKENS);
  const system = estimateRequestInputTokens({ contents: [{ parts: [{ text: 'hi' }] }], systemInstruction: { parts: [{ inlineData: { mimeType: 'image/png', data: png(200, 100) } }] } }, 'generate-content');
  assert.equal(system - estimateRequestInputTokens({ contents: [{ parts: [{ text: 'hi' }] }] }, 'generate-content'), 2240);
});

test('interactions: image, audio, document and video contents', () => {
  const interaction = (...contents: unknown[]) => estimateRequestInputTokens({ input: [{ type: 'text', text: 'Describe.' }, ...contents] }, 'interactions');
  const alone = interaction();
  assert.equal(interaction({ type: 'image', data: png(1600, 1200), mime_type: 'image/png' }) - alone, 3779);
  assert.equal(interaction({ type: 'image', uri: 'https://example.com/a.png' }) - alone, IMAGE_MAX_TOKENS);
  assert.equal(interaction({ type: 'audio', uri: 'gs://b/a.mp3', mime_type: 'audio/mp3' }) - alone, UNKNOWN_LENGTH_TOKENS);
  assert.equal(interaction({ type: 'video', data: Buffer.alloc(10_000).toString('base64'), mime_type: 'video/mp4' }) - alone, 10 * VIDEO_TOKENS_PER_SECOND);
  assert.equal(interaction({ type: 'document', data: Buffer.alloc(1_000).toString('base64'), mime_type: 'application/pdf' }) - alone, PAGE_TOKENS);
  // Inside a step's contents.
  const step = estimateRequestInputTokens({ input: [{ type: 'user_input', content: [{ type: 'image', uri: 'https://example.com/a.png' }] }] }, 'interactions');
  assert.equal(step - estimateRequestInputTokens({ input: [{ type: 'user_input', content: [] }] }, 'interactions'), IMAGE_MAX_TOKENS);
});

test('media are bounded in the raw estimate and in the free bound alike, above the byte length', () => {
  const body = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] };
  const raw = Buffer.from(JSON.stringify(body));
  const estimate = estimateRawRequestInputTokens(raw, 'chat-completions');
  assert.equal(estimate, estimateRequestInputTokens(body, 'chat-completions'));
  assert.ok(estimate > raw.length, 'an image address costs more than its bytes');
  assert.equal(inputTokensUpperBound(raw, body), raw.length + IMAGE_MAX_TOKENS);
  assert.ok(estimate <= inputTokensUpperBound(raw, body));
});

test('a large data URL is read in a bounded number of characters, on every surface', () => {
  // Each surface's part holding the data, in a turn also sent without it (the text alone).
  const cases: [(part?: unknown) => Record<string, unknown>, (data: string) => unknown, Parameters<typeof estimateRequestInputTokens>[1]][] = [
    [(p) => ({ messages: [{ role: 'user', content: p ? [p] : [] }] }), (d) => ({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${d}` } }), 'chat-completions'],
    [(p) => ({ input: [{ role: 'user', content: p ? [p] : [] }] }), (d) => ({ type: 'input_image', image_url: `data:image/jpeg;base64,${d}` }), 'responses'],
    [(p) => ({ messages: [{ role: 'user', content: p ? [p] : [] }] }), (d) => ({ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: d } }), 'messages'],
    [(p) => ({ contents: [{ parts: p ? [p] : [] }] }), (d) => ({ inlineData: { mimeType: 'image/jpeg', data: d } }), 'generate-content'],
    [(p) => ({ input: [{ type: 'user_input', content: p ? [p] : [] }] }), (d) => ({ type: 'image', data: d, mime_type: 'image/jpeg' }), 'interactions'],
  ];
  // A JPEG whose size is never found: segment after segment of 64 bytes, so the walk would go on to the end.
  const segments = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8]), ...Array.from({ length: n }, () => Buffer.concat([Buffer.from([0xff, 0xe1, 0x00, 0x40]), Buffer.alloc(62)]))]).toString('base64');
  for (const [body, part, surface] of cases) {
    const work = (data: string) => {
      const before = mediaCharsDecoded();
      const tokens = estimateRequestInputTokens(body(part(data)), surface);
      return { chars: mediaCharsDecoded() - before, tokens };
    };
    const small = work(segments(16_000));
    const large = work(segments(64_000));
    // Its size never found within the walk's bound: an image of unknown size.
    assert.equal(small.tokens - estimateRequestInputTokens(body(), surface), IMAGE_MAX_TOKENS, surface);
    assert.equal(large.tokens, small.tokens, surface);
    // The same handful of header characters whether the image is 1 MB or 4 MB, not a pass over its data.
    assert.equal(large.chars, small.chars, surface);
    // 64 segment headers of a few bytes each, of the millions of characters there.
    assert.ok(small.chars <= 2_000, `${surface}: ${small.chars} characters decoded`);
  }
});
