/**
 * Builds a tiny whisper.cpp model file (legacy ggml format, F32) whose output
 * is known: every weight is zero except the decoder's final layer-norm bias
 * and one token embedding, so the decoder's logits are the same at every step
 * and favour one text token. Layout per whisper.cpp's whisper_model_load:
 * magic, 11 int32 hparams, mel filters, vocab, then tensor records.
 */
import fs from 'node:fs';

export interface TinyModel {
  file: string;
  /** The token text the model says. */
  word: string;
}

const N_VOCAB = 51864; // English-only: special tokens at their fixed ids (eot 50256 … beg 50363)
const S = 8; // audio and text state
const N_AUDIO_CTX = 1500; // a 30 s window
const N_TEXT_CTX = 64;
const N_MELS = 80;

export function buildTinyWhisperModel(file: string, word = 'hello'): TinyModel {
  const parts: Buffer[] = [];
  const i32 = (...xs: number[]) => {
    const b = Buffer.alloc(4 * xs.length);
    for (const [i, x] of xs.entries()) b.writeInt32LE(x, 4 * i);
    parts.push(b);
  };
  const f32 = (n: number, fill: (i: number) => number = () => 0) => {
    const b = Buffer.alloc(4 * n);
    for (let i = 0; i < n; i++) {
      const v = fill(i);
      if (v) b.writeFloatLE(v, 4 * i);
    }
    parts.push(b);
  };
  const u32 = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    parts.push(b);
  };
  u32(0x67676d6c);
  // n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels,
  // ftype 1: matrices and convolutions in f16 (ggml's CPU convolution takes only f16 kernels), the rest f32.
  i32(N_VOCAB, N_AUDIO_CTX, S, 1, 1, N_TEXT_CTX, S, 1, 1, N_MELS, 1);
  // Mel filters: n_mel, n_fft (= 1 + 400/2), data.
  i32(N_MELS, 201);
  f32(N_MELS * 201);
  // Vocab: a few tokens; " " must exist (blank suppression looks it up). The rest is synthesized.
  const tokens = ['!', ' ', word, ` ${word}`];
  i32(tokens.length);
  for (const t of tokens) {
    const b = Buffer.from(t, 'utf8');
    u32(b.length);
    parts.push(b);
  }
  const wordId = 3;
  const f16 = (n: number, fill: (i: number) => number = () => 0) => {
    const b = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) {
      const v = fill(i);
      if (v) b.writeUInt16LE(toHalf(v), 2 * i);
    }
    parts.push(b);
  };
  // Matrices (n_dims 2 with a ".weight" name) and conv kernels are f16; vectors, biases and positional embeddings f32.
  const tensor = (name: string, ne: number[], fill?: (i: number) => number) => {
    const half = name.endsWith('.weight') && ne.length >= 2 && !name.includes('_ln') && name !== 'decoder.ln.weight';
    const nameBuf = Buffer.from(name, 'utf8');
    i32(ne.length, nameBuf.length, half ? 1 : 0, ...ne);
    parts.push(nameBuf);
    (half ? f16 : f32)(
      ne.reduce((a, b) => a * b, 1),
      fill,
    );
  };
  tensor('encoder.positional_embedding', [S, N_AUDIO_CTX]);
  tensor('encoder.conv1.weight', [3, N_MELS, S]);
  tensor('encoder.conv1.bias', [1, S]);
  tensor('encoder.conv2.weight', [3, S, S]);
  tensor('encoder.conv2.bias', [1, S]);
  tensor('encoder.ln_post.weight', [S]);
  tensor('encoder.ln_post.bias', [S]);
  const block = (p: string, cross: boolean) => {
    for (const ln of ['mlp_ln', 'attn_ln', ...(cross ? ['cross_attn_ln'] : [])]) {
      tensor(`${p}.${ln}.weight`, [S]);
      tensor(`${p}.${ln}.bias`, [S]);
    }
    tensor(`${p}.mlp.0.weight`, [S, 4 * S]);
    tensor(`${p}.mlp.0.bias`, [4 * S]);
    tensor(`${p}.mlp.2.weight`, [4 * S, S]);
    tensor(`${p}.mlp.2.bias`, [S]);
    for (const a of ['attn', ...(cross ? ['cross_attn'] : [])]) {
      tensor(`${p}.${a}.query.weight`, [S, S]);
      tensor(`${p}.${a}.query.bias`, [S]);
      tensor(`${p}.${a}.key.weight`, [S, S]);
      tensor(`${p}.${a}.value.weight`, [S, S]);
      tensor(`${p}.${a}.value.bias`, [S]);
      tensor(`${p}.${a}.out.weight`, [S, S]);
      tensor(`${p}.${a}.out.bias`, [S]);
    }
  };
  block('encoder.blocks.0', false);
  tensor('decoder.positional_embedding', [S, N_TEXT_CTX]);
  // logits = ln(x) · E: with ln weight 0 and bias v, every step sees v; only `word` gets a large logit.
  tensor('decoder.token_embedding.weight', [S, N_VOCAB], (i) => (i === wordId * S ? 20 : 0));
  tensor('decoder.ln.weight', [S]);
  tensor('decoder.ln.bias', [S], (i) => (i === 0 ? 1 : 0));
  block('decoder.blocks.0', true);
  fs.writeFileSync(file, Buffer.concat(parts));
  return { file, word };
}

/** IEEE 754 half precision of a float (normal numbers; enough for the weights above). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = (x >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}
