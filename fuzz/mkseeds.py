#!/usr/bin/env python3
"""mkseeds.py: writes the handcrafted seeds in fuzz/seeds/{gguf,tokenizer,spec}/.

GGUF: small files the fuzzer can mutate quickly: a micro llama model
(embedding 32, one layer, 16-token vocab with byte tokens) in each computed
type, a file with one KV of every type and no tensors, and a few edge cases
the parser must accept. Tokenizer: texts at the edges of both tokenizers
(spaces, U+2581, invalid UTF-8, NULs, contractions, digits, scripts). Spec:
sweep files using every directive and quoting rule. The outputs are
committed (the corpora from the real files are built by scripts/fuzz.sh);
rerun this after changing it:
    python3 fuzz/mkseeds.py fuzz/seeds
"""
import os
import random
import struct
import sys

ALIGN = 32
F32, F16, Q4_0, Q8_0 = 0, 1, 2, 8
U8, I8, U16, I16, U32, I32, F32KV, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32KV: "<f",
          BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(value(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def f16(x):
    return struct.pack("<e", x)


def tensor_bytes(typ, ne, rng):
    n = 1
    for d in ne:
        n *= d
    if typ == F32:
        return b"".join(struct.pack("<f", rng.uniform(-0.5, 0.5)) for _ in range(n))
    if typ == F16:
        return b"".join(f16(rng.uniform(-0.5, 0.5)) for _ in range(n))
    out = b""
    for _ in range(n // 32):
        if typ == Q8_0:
            out += f16(0.01) + bytes(rng.randrange(256) for _ in range(32))
        else:
            out += f16(0.02) + bytes(rng.randrange(256) for _ in range(16))
    return out


def gguf(kvs, tensors, version=3, align=ALIGN):
    """kvs: [(key, type, value)]; tensors: [(name, ne, type, data)]."""
    head = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(kvs))
    for k, t, v in kvs:
        head += gstr(k) + struct.pack("<I", t) + value(t, v)
    off = 0
    blobs = b""
    for name, ne, typ, data in tensors:
        head += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        head += struct.pack("<IQ", typ, off)
        pad = (-len(data)) % align
        blobs += data + bytes(pad)
        off += len(data) + pad
    if not tensors:
        return head
    head += bytes((-len(head)) % align)
    return head + blobs


def vocab():
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in (0x0A, 0x20, 0x41, 0xFF)]
    toks += ["\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "ba", "c", "\u2581c"]
    types = [2, 3, 3] + [6] * 4 + [1] * 9
    scores = [0.0] * 7 + [-float(i) for i in range(9)]
    return toks, types, scores


def micro(typ, tied=True, seed=1):
    rng = random.Random(seed)
    n_embd, n_ff, n_head, n_head_kv, head_dim = 32, 32, 2, 1, 16
    toks, types, scores = vocab()
    kvs = [
        ("general.architecture", STR, "llama"),
        ("general.name", STR, "micro"),
        ("general.alignment", U32, ALIGN),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, n_embd),
        ("llama.block_count", U32, 1),
        ("llama.feed_forward_length", U32, n_ff),
        ("llama.attention.head_count", U32, n_head),
        ("llama.attention.head_count_kv", U32, n_head_kv),
        ("llama.rope.dimension_count", U32, head_dim),
        ("llama.rope.freq_base", F32KV, 10000.0),
        ("llama.attention.layer_norm_rms_epsilon", F32KV, 1e-5),
        ("tokenizer.ggml.model", STR, "llama"),
        ("tokenizer.ggml.tokens", ARR, (STR, toks)),
        ("tokenizer.ggml.scores", ARR, (F32KV, scores)),
        ("tokenizer.ggml.token_type", ARR, (I32, types)),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
        ("tokenizer.ggml.unknown_token_id", U32, 0),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
    ]
    n_vocab = len(toks)
    mat = typ
    t = []

    def add(name, ne, ty):
        t.append((name, ne, ty, tensor_bytes(ty, ne, rng)))

    add("token_embd.weight", [n_embd, n_vocab], F32 if typ == F32 else F16)
    add("output_norm.weight", [n_embd], F32)
    if not tied:
        add("output.weight", [n_embd, n_vocab], mat)
    add("blk.0.attn_norm.weight", [n_embd], F32)
    add("blk.0.attn_q.weight", [n_embd, n_head * head_dim], mat)
    add("blk.0.attn_k.weight", [n_embd, n_head_kv * head_dim], mat)
    add("blk.0.attn_v.weight", [n_embd, n_head_kv * head_dim], mat)
    add("blk.0.attn_output.weight", [n_head * head_dim, n_embd], mat)
    add("blk.0.ffn_norm.weight", [n_embd], F32)
    add("blk.0.ffn_gate.weight", [n_embd, n_ff], mat)
    add("blk.0.ffn_up.weight", [n_embd, n_ff], mat)
    add("blk.0.ffn_down.weight", [n_ff, n_embd], mat)
    return gguf(kvs, t)


def byte_alphabet():
    """GPT-2's printable stand-ins for the 256 byte values."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def gpt2_vocab():
    """A vocab-only file (no tensors) for the byte-level BPE loader."""
    alpha = byte_alphabet()
    merges = ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a", "e r", "1 2", "' s"]
    toks = alpha + [m.replace(" ", "") for m in merges] + ["<|endoftext|>"]
    types = [1] * (len(toks) - 1) + [3]
    kvs = [
        ("general.architecture", STR, "llama"),
        ("tokenizer.ggml.model", STR, "gpt2"),
        ("tokenizer.ggml.pre", STR, "default"),
        ("tokenizer.ggml.tokens", ARR, (STR, toks)),
        ("tokenizer.ggml.token_type", ARR, (I32, types)),
        ("tokenizer.ggml.merges", ARR, (STR, merges)),
        ("tokenizer.ggml.bos_token_id", U32, len(toks) - 1),
        ("tokenizer.ggml.eos_token_id", U32, len(toks) - 1),
    ]
    return gguf(kvs, [])


def every_kv_type():
    kvs = [
        ("u8", U8, 200), ("i8", I8, -100), ("u16", U16, 60000), ("i16", I16, -30000),
        ("u32", U32, 4000000000), ("i32", I32, -2000000000), ("f32", F32KV, 1.5),
        ("bool", BOOL, True), ("str", STR, "caf\u00e9"), ("empty", STR, ""),
        ("u64", U64, 2 ** 63), ("i64", I64, -2 ** 62), ("f64", F64, -0.25),
        ("arr.u8", ARR, (U8, [1, 2, 3])), ("arr.f32", ARR, (F32KV, [0.5, -1.0])),
        ("arr.str", ARR, (STR, ["a", "", "\u2581b"])), ("arr.empty", ARR, (I32, [])),
    ]
    return gguf(kvs, [])


TEXTS = {
    "empty.txt": b"",
    "space.txt": b" ",
    "spaces.txt": b"   a  b   ",
    "newlines.txt": b"\n\n\t\r\n x\n",
    "hello.txt": b"Hello world",
    "block.txt": "\u2581a\u2581\u2581b \u2581".encode(),
    "invalid-utf8.txt": b"\xff\xfe a\xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x96",
    "nul.txt": b"a\x00b\x00\x00",
    "contractions.txt": b"it's we're they've I'm we'll he'd 'S 'LL",
    "digits.txt": b"1234567 3.14159 1,000,000 0x1F",
    "punct.txt": b"$+<=>^`| !!! ... ?!",
    "scripts.txt": "caf\u00e9 \u4f60\u597d \u0645\u0631\u062d\u0628\u0627 \U0001F600\U0001F44D\u200d".encode(),
    "special.txt": b"<s></s><unk><|endoftext|> <0x41>",
    "long-run.txt": b"a" * 300 + b" " * 100 + b"ab" * 100,
}

SWEEPS = {
    "full.sweep": b"""# every directive
engine   minillm bin=build/release/minillm
model    stories260K@q8_0,q4_0 gen:tiny path/to/m.gguf
quant    f32 f16 q8_0 q4_0 q4_k q6_k
mode     mmap mmap+reclaim read no-mmap+mlock no-repack evict+at-end
workload complete prompt="Once \\"upon\\" a\\ttime\\n" n=32 ctx=64 name=c1
workload perplexity file=tinystories_val_sample.txt ctx=128 chunks=4 name=p1
threads  1 2 4
cache    warm cold
reps     3
timeout  60.5
mem-limit 512M
cgroup   on
""",
    "llama.sweep": b"""engine llama.cpp completion=/bin/true perplexity=/bin/false
model  a
quant  f32
mode   mmap  # trailing comment
workload complete prompt=x
""",
    "minimal.sweep": b"model m\nquant f32\nmode mmap\nworkload complete prompt=\"\"\n",
    "bad-quant.sweep": b"model m\nquant q5_0\nmode mmap\nworkload complete prompt=a\n",
    "bad-quote.sweep": b"model m\nquant f32\nmode mmap\nworkload complete prompt=\"open\n",
    "sizes.sweep": b"model m\nquant f32\nmode mmap\nworkload complete prompt=a\nmem-limit 2G\nmem-limit 1048576\n",
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "fuzz/seeds"
    for sub, files in (("tokenizer", TEXTS), ("spec", SWEEPS)):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(root, sub, name), "wb") as fp:
                fp.write(data)
    out = os.path.join(root, "gguf")
    os.makedirs(out, exist_ok=True)
    files = {
        "micro-f32": micro(F32),
        "micro-f16": micro(F16),
        "micro-q8_0": micro(Q8_0),
        "micro-q4_0-untied": micro(Q4_0, tied=False),
        "kv-types": every_kv_type(),
        "vocab-gpt2": gpt2_vocab(),
        "empty-v3": gguf([], []),
        "empty-v2": gguf([], [], version=2),
        "one-tensor-4d": gguf([("general.alignment", U32, 64)],
                                   [("t", [2, 1, 3, 1], F32, bytes(24))], align=64),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as fp:
            fp.write(data)


if __name__ == "__main__":
    main()
