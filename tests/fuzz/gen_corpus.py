#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz/corpus/<target>/.

Run from the repository root:  python3 tests/fuzz/gen_corpus.py
Deterministic (fixed seed), standard library only. The seeds are small valid inputs of
every shape the parsers accept, plus a few near-misses; libFuzzer mutates from there.
"""
import json
import os
import random
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = random.Random(1234)


def out(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors --------------------------------------------------------------------------------
DT = {"F32": ("<f", 4), "F16": ("<e", 2), "BF16": (None, 2), "I64": ("<q", 8), "I32": ("<i", 4),
      "U8": ("<B", 1), "F64": ("<d", 8)}


def tensor_bytes(dtype, n, fill=None):
    fmt, size = DT[dtype]
    b = bytearray()
    for _ in range(n):
        v = fill if fill is not None else rng.uniform(-0.5, 0.5)
        if dtype == "BF16":
            b += struct.pack("<f", v)[2:4]
        elif dtype in ("I64", "I32", "U8"):
            b += struct.pack(fmt, rng.randrange(0, 100))
        else:
            b += struct.pack(fmt, v)
    return bytes(b)


def safetensors(tensors, metadata=None, pad=0):
    """tensors: list of (name, dtype, shape[, fill]) -> bytes."""
    hdr, data = {}, bytearray()
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for t in tensors:
        name, dtype, shape = t[0], t[1], t[2]
        fill = t[3] if len(t) > 3 else None
        n = 1
        for s in shape:
            n *= s
        b = tensor_bytes(dtype, n, fill)
        hdr[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8 + pad)
    return struct.pack("<Q", len(h)) + h + bytes(data)


# ---- model seeds --------------------------------------------------------------------------------
def llama_like(model_type="llama", d=8, H=2, KV=1, ff=16, V=32, L=1, tied=False, extra=None, prefix="model."):
    hd = d // H
    cfg = {"model_type": model_type, "vocab_size": V, "hidden_size": d, "num_hidden_layers": L,
           "num_attention_heads": H, "num_key_value_heads": KV, "intermediate_size": ff,
           "max_position_embeddings": 16, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": tied, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}
    if extra:
        cfg.update(extra)
    hd = cfg.get("head_dim", hd)
    ts = [(prefix + "embed_tokens.weight", "F32", (V, d))]
    for l in range(L):
        p = f"{prefix}layers.{l}."
        ts += [(p + "input_layernorm.weight", "F32", (d,), 1.0), (p + "post_attention_layernorm.weight", "F32", (d,), 1.0),
               (p + "self_attn.q_proj.weight", "F32", (H * hd, d)), (p + "self_attn.k_proj.weight", "F32", (KV * hd, d)),
               (p + "self_attn.v_proj.weight", "F32", (KV * hd, d)), (p + "self_attn.o_proj.weight", "F32", (d, H * hd))]
        if model_type == "qwen2":
            ts += [(p + "self_attn.q_proj.bias", "F32", (H * hd,)), (p + "self_attn.k_proj.bias", "F32", (KV * hd,)),
                   (p + "self_attn.v_proj.bias", "F32", (KV * hd,))]
        if model_type in ("qwen3", "qwen3_moe"):
            ts += [(p + "self_attn.q_norm.weight", "F32", (hd,), 1.0), (p + "self_attn.k_norm.weight", "F32", (hd,), 1.0)]
        if model_type == "mixtral":
            E, I = cfg["num_local_experts"], ff
            ts.append((p + "block_sparse_moe.gate.weight", "F32", (E, d)))
            for e in range(E):
                q = f"{p}block_sparse_moe.experts.{e}."
                ts += [(q + "w1.weight", "F32", (I, d)), (q + "w3.weight", "F32", (I, d)), (q + "w2.weight", "F32", (d, I))]
        elif model_type == "qwen3_moe":
            E, I = cfg["num_experts"], cfg["moe_intermediate_size"]
            ts += [(p + "mlp.gate.weight", "F32", (E, d)), (p + "mlp.experts.gate_up_proj", "F32", (E, 2 * I, d)),
                   (p + "mlp.experts.down_proj", "F32", (E, d, I))]
        else:
            ts += [(p + "mlp.gate_proj.weight", "F32", (ff, d)), (p + "mlp.up_proj.weight", "F32", (ff, d)),
                   (p + "mlp.down_proj.weight", "F32", (d, ff))]
    ts.append((prefix + "norm.weight", "F32", (d,), 1.0))
    if not tied:
        ts.append(("lm_head.weight", "F32", (V, d)))
    return cfg, ts


def deepseek(v3=False, q_lora=0, d=8, H=2, V=32, L=2):
    nope, rope, vdim, kvl, ff, mff, E, S = 4, 2, 4, 6, 16, 4, 4, 1
    cfg = {"model_type": "deepseek_v3" if v3 else "deepseek_v2", "vocab_size": V, "hidden_size": d,
           "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": H, "intermediate_size": ff,
           "moe_intermediate_size": mff, "n_routed_experts": E, "n_shared_experts": S, "num_experts_per_tok": 2,
           "first_k_dense_replace": 1, "moe_layer_freq": 1, "kv_lora_rank": kvl, "q_lora_rank": q_lora or None,
           "qk_nope_head_dim": nope, "qk_rope_head_dim": rope, "v_head_dim": vdim, "max_position_embeddings": 16,
           "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "n_group": 2, "topk_group": 1,
           "topk_method": "noaux_tc" if v3 else "group_limited_greedy", "routed_scaling_factor": 1.5,
           "rope_scaling": {"type": "yarn", "factor": 2.0, "original_max_position_embeddings": 8,
                            "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}}
    if v3:
        cfg["scoring_func"] = "sigmoid"
    ts = [("model.embed_tokens.weight", "F32", (V, d))]
    for l in range(L):
        p = f"model.layers.{l}."
        ts += [(p + "input_layernorm.weight", "F32", (d,), 1.0), (p + "post_attention_layernorm.weight", "F32", (d,), 1.0)]
        if q_lora:
            ts += [(p + "self_attn.q_a_proj.weight", "F32", (q_lora, d)), (p + "self_attn.q_a_layernorm.weight", "F32", (q_lora,), 1.0),
                   (p + "self_attn.q_b_proj.weight", "F32", (H * (nope + rope), q_lora))]
        else:
            ts.append((p + "self_attn.q_proj.weight", "F32", (H * (nope + rope), d)))
        ts += [(p + "self_attn.kv_a_proj_with_mqa.weight", "F32", (kvl + rope, d)),
               (p + "self_attn.kv_a_layernorm.weight", "F32", (kvl,), 1.0),
               (p + "self_attn.kv_b_proj.weight", "F32", (H * (nope + vdim), kvl)),
               (p + "self_attn.o_proj.weight", "F32", (d, H * vdim))]
        if l == 0:
            ts += [(p + "mlp.gate_proj.weight", "F32", (ff, d)), (p + "mlp.up_proj.weight", "F32", (ff, d)),
                   (p + "mlp.down_proj.weight", "F32", (d, ff))]
        else:
            ts.append((p + "mlp.gate.weight", "F32", (E, d)))
            if v3:
                ts.append((p + "mlp.gate.e_score_correction_bias", "F32", (E,), 0.0))
            for e in range(E):
                q = f"{p}mlp.experts.{e}."
                ts += [(q + "gate_proj.weight", "F32", (mff, d)), (q + "up_proj.weight", "F32", (mff, d)),
                       (q + "down_proj.weight", "F32", (d, mff))]
            ts += [(p + "mlp.shared_experts.gate_proj.weight", "F32", (S * mff, d)),
                   (p + "mlp.shared_experts.up_proj.weight", "F32", (S * mff, d)),
                   (p + "mlp.shared_experts.down_proj.weight", "F32", (d, S * mff))]
    ts += [("model.norm.weight", "F32", (d,), 1.0), ("lm_head.weight", "F32", (V, d))]
    return cfg, ts


def gpt2(d=8, H=2, V=32, P=16, L=1, prefix="transformer."):
    cfg = {"model_type": "gpt2", "vocab_size": V, "n_embd": d, "n_layer": L, "n_head": H, "n_positions": P,
           "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    ff = 4 * d
    ts = [(prefix + "wte.weight", "F32", (V, d)), (prefix + "wpe.weight", "F32", (P, d))]
    for l in range(L):
        p = f"{prefix}h.{l}."
        ts += [(p + "ln_1.weight", "F32", (d,), 1.0), (p + "ln_1.bias", "F32", (d,), 0.0),
               (p + "ln_2.weight", "F32", (d,), 1.0), (p + "ln_2.bias", "F32", (d,), 0.0),
               (p + "attn.c_attn.weight", "F32", (d, 3 * d)), (p + "attn.c_attn.bias", "F32", (3 * d,)),
               (p + "attn.c_proj.weight", "F32", (d, d)), (p + "attn.c_proj.bias", "F32", (d,)),
               (p + "mlp.c_fc.weight", "F32", (d, ff)), (p + "mlp.c_fc.bias", "F32", (ff,)),
               (p + "mlp.c_proj.weight", "F32", (ff, d)), (p + "mlp.c_proj.bias", "F32", (d,))]
    ts += [(prefix + "ln_f.weight", "F32", (d,), 1.0), (prefix + "ln_f.bias", "F32", (d,), 0.0)]
    return cfg, ts


MODELS = {
    "llama_gqa": llama_like(),
    "llama_tied_l2": llama_like(L=2, tied=True, KV=2),
    "llama3_rope": llama_like(extra={"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8}}),
    "mistral_sw": llama_like("mistral", extra={"sliding_window": 4}),
    "qwen2_bias": llama_like("qwen2", extra={"use_sliding_window": False}),
    "qwen3_qknorm": llama_like("qwen3", extra={"head_dim": 4, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}}),
    "mixtral": llama_like("mixtral", extra={"num_local_experts": 4, "num_experts_per_tok": 2}),
    "qwen3_moe": llama_like("qwen3_moe", extra={"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 4,
                                                "norm_topk_prob": True, "head_dim": 4, "decoder_sparse_step": 1,
                                                "mlp_only_layers": []}),
    "deepseek_v2": deepseek(),
    "deepseek_v3_qlora": deepseek(v3=True, q_lora=4),
    "gpt2": gpt2(),
    "gpt2_noprefix": gpt2(prefix="", L=2),
}

for name, (cfg, ts) in MODELS.items():
    cj = json.dumps(cfg, indent=1)
    out("config", name + ".json", cj)
    out("loader", name, cj.encode() + b"\0" + safetensors(ts, {"format": "pt"}))

# config near-misses and odd values
out("config", "llama_min.json", '{"model_type":"llama"}')
out("config", "heads_not_dividing.json", '{"model_type":"llama","hidden_size":10,"num_attention_heads":3}')
out("config", "partial_rotary.json", '{"model_type":"qwen3","hidden_size":64,"num_attention_heads":4,'
    '"partial_rotary_factor":0.5,"rope_scaling":{"type":"dynamic","factor":2.0},"eos_token_id":[1,2]}')
out("config", "linear_rope.json", '{"model_type":"llama","rope_scaling":{"type":"linear","factor":4}, "bos_token_id":1e3}')

# ---- safetensors seeds --------------------------------------------------------------------------
out("safetensors", "mixed_dtypes", safetensors([("a.weight", "F32", (2, 3)), ("b", "BF16", (4,)), ("c", "F16", (2, 2)),
                                                ("pos_ids", "I64", (2,)), ("empty", "F16", (0, 5)), ("scalar", "F32", ())],
                                               {"format": "pt"}))
out("safetensors", "one", safetensors([("w", "F32", (1,))]))
out("safetensors", "padded", safetensors([("x", "U8", (3,)), ("y", "F64", (1, 1))], pad=16))
out("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
out("safetensors", "llama_gqa", safetensors(MODELS["llama_gqa"][1]))

# ---- sharded index (shards a.safetensors, b.safetensors are made by the target) ------------------
out("st_index", "two_shards", json.dumps({"metadata": {"total_size": 40}, "weight_map": {"a.w": "a.safetensors",
                                          "a.b": "a.safetensors", "b.w": "b.safetensors"}}))
out("st_index", "one_shard", json.dumps({"weight_map": {"a.w": "a.safetensors"}}))
out("st_index", "bad_path", json.dumps({"weight_map": {"a.w": "../a.safetensors"}}))
out("st_index", "wrong_shard", json.dumps({"weight_map": {"a.w": "b.safetensors"}}))

# ---- llama2.c checkpoints ------------------------------------------------------------------------
def llama2c(dim=8, hidden=16, L=1, H=2, KV=1, V=16, seq=8, shared=True):
    hs = dim // H
    kvd = hs * KV
    hdr = struct.pack("<7i", dim, hidden, L, H, KV, V if shared else -V, seq)
    n = V * dim + L * dim + L * dim * dim + 2 * L * kvd * dim + L * dim * dim + L * dim + 3 * L * hidden * dim + dim
    n += 2 * seq * (hs // 2)
    if not shared:
        n += V * dim
    return hdr + b"".join(struct.pack("<f", rng.uniform(-0.5, 0.5)) for _ in range(n))


out("llama2c", "tiny_shared", llama2c())
out("llama2c", "tiny_unshared", llama2c(shared=False, KV=2))
out("llama2c", "two_layers", llama2c(L=2, H=4, KV=2, dim=16))

# ---- llama2.c tokenizer.bin: [int32 vocab_size for the loader][tokenizer.bin] -------------------
def l2c_tok(pieces):
    b = struct.pack("<i", max(len(p) for p in pieces))
    for i, p in enumerate(pieces):
        pb = p.encode("utf-8") if isinstance(p, str) else p
        b += struct.pack("<fi", -float(i), len(pb)) + pb
    return b


pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)] + \
         ["\u2581", "\u2581t", "he", "\u2581the", "\u2581a", "in", "\u2581in", "\u00e9", "\u4e2d", "\u2581\u4e2d\u6587", "ll", "llo"]
out("llama2c_tok", "bytes_and_merges", struct.pack("<i", len(pieces)) + l2c_tok(pieces))
out("llama2c_tok", "until_eof", struct.pack("<i", 0) + l2c_tok(pieces[:20]))
out("llama2c_tok", "small", struct.pack("<i", 4) + l2c_tok(["<unk>", "a", "b", "ab"]))

# ---- tokenizer.json ------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
         list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


B2U = bytes_to_unicode()
bl = lambda s: "".join(B2U[b] for b in s.encode("utf-8"))
vocab = {B2U[b]: i for i, b in enumerate(sorted(B2U))}
merges = []
for a, b in [(" ", "t"), ("h", "e"), (" t", "he"), ("i", "n"), (" ", "a"), ("l", "l"), ("ll", "o"), ("1", "2")]:
    merges.append(bl(a) + " " + bl(b))
    vocab.setdefault(bl(a + b), len(vocab))
bytelevel = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True},
                     {"id": len(vocab) + 1, "content": "<tool>", "single_word": False, "lstrip": True,
                      "rstrip": True, "normalized": True, "special": False}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [len(vocab)], "tokens": ["<|endoftext|>"]}}},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": merges}}
out("tokenizer_json", "bytelevel.json", json.dumps(bytelevel, ensure_ascii=False))

sp_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for i in range(256):
    sp_vocab["<0x%02X>" % i] = len(sp_vocab)
sp_merges = []
for a, b in [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("i", "n"), ("\u2581", "a"), ("l", "l"), ("ll", "o")]:
    for t in (a, b):
        sp_vocab.setdefault(t, len(sp_vocab))
    sp_vocab.setdefault(a + b, len(sp_vocab))
    sp_merges.append([a, b])
spm = {
    "version": "1.0", "added_tokens": [{"id": 0, "content": "<unk>", "special": True, "normalized": False, "lstrip": False,
                                        "rstrip": False, "single_word": False},
                                       {"id": 1, "content": "<s>", "special": True, "normalized": False, "lstrip": False,
                                        "rstrip": False, "single_word": False}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                       {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                 {"type": "ByteFallback"}, {"type": "Fuse"},
                                                 {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True, "vocab": sp_vocab,
              "merges": sp_merges}}
out("tokenizer_json", "sentencepiece.json", json.dumps(spm, ensure_ascii=False))
meta = dict(spm)
meta["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True}]}
meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}
meta["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}
out("tokenizer_json", "metaspace.json", json.dumps(meta, ensure_ascii=False))
out("tokenizer_json", "minimal.json", '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}')

# ---- texts for tokenizer_encode: [selector byte][text] -------------------------------------------
texts = [b"Hello world, the 12345 apples!", "caf\u00e9 \u4e2d\u6587 \U0001F600 na\u00efve".encode(), b"\xff\xfe invalid \xc3\x28 utf-8 \xe2\x82",
         b"<|endoftext|>the end<|endoftext|>", b"  leading   spaces\n\n\ttabs\r\n", b"<tool> call </tool>", b"", b"\x00\x01\x02 nul"]
for i, t in enumerate(texts):
    for sel in (0, 1, 2, 3):
        out("tokenizer_encode", f"t{i}_{sel}", bytes([sel * 2 + (i & 1)]) + t)

# ---- lessons (the shipped lessons/ are used as seeds too; these cover every action verb) ------
lesson = {
    "id": "fuzz-seed", "lang": "en", "title": "Seed", "summary": "Every action once.",
    "model": "assets/models/story-gqa", "prompt": "Once upon a time",
    "refs": {"llama": "assets/configs/llama-3-8b"},
    "steps": [
        {"title": "a", "text": "{prompt.tokens} tokens; {{literal}} braces; {model.kv_heads@llama}",
         "question": "Why {model.layers}?", "answer": "Because.",
         "actions": [{"do": "load", "model": "assets/models/story-mha", "slot": "B"},
                     {"do": "prompt", "text": "hi there", "prefill": True},
                     {"do": "step", "n": 2}, {"do": "back", "n": 1}, {"do": "token", "pos": -1},
                     {"do": "key", "pos": 0}, {"do": "key", "off": True},
                     {"do": "highlight", "token": 1, "key": 0, "layer": 0, "head": "last"},
                     {"do": "stage", "stage": "softmax", "layer": "last"}, {"do": "step_into", "n": -1},
                     {"do": "panel", "panel": "attention"}, {"do": "side", "off": True},
                     {"do": "layer", "layer": 1}, {"do": "head", "head": 0},
                     {"do": "compare", "off": True}, {"do": "ablate", "layer": 0, "head": 1, "slot": "A"},
                     {"do": "sampler", "greedy": False, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "seed": 3},
                     {"do": "keys", "keys": "v"}]},
    ]}
out("lesson", "all_actions.json", json.dumps(lesson, ensure_ascii=False, indent=1))
out("lesson", "minimal.json", '{"id":"m","lang":"en","title":"t","summary":"s","model":"m","prompt":"p","steps":[{"text":"x"}]}')


# ---- contrast: one selector byte (theme, colour mode, ASCII), then a screen dump -----------------
def contrast_seeds():
    esc = "\x1b"
    dumps = {
        "plain": "hello world\nsecond line",
        "truecolor": esc + "[0;1;38;2;255;200;60;48;2;28;58;105mllmscope" + esc + "[0m ok\n",
        "c256": esc + "[38;5;16;48;5;16mx" + esc + "[7;38;5;231my" + esc + "[0;30;47mz",
        "c16_bright": esc + "[90;107mgrey" + esc + "[39;49m def",
        "colon": esc + "[38:2::255:255:255;48:2::0:0:0mw" + esc + "[m",
        "osc_cursor": esc + "]4;17;rgb:00/00/00" + esc + "\\" + esc + "[2;5Hmoved" + esc + "(B",
        "unicode": "\u2502query 7 \u2423was  \u4f60\u597d \u2580\u2588\u28ff e\u0301\n",
        "truncated": esc + "[38;2;1",
    }
    for i, (name, text) in enumerate(sorted(dumps.items())):
        out("contrast", name, bytes([i * 37 % 256]) + text.encode("utf-8"))


contrast_seeds()


# ---- GGUF ---------------------------------------------------------------------------------------
def gguf_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


GGUF_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}
# ggml type: (block elements, block bytes)
GGML_BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
              10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292)}


def gguf_value(t, v):
    if t == 8:
        return gguf_str(v)
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_value(et, x) for x in items)
    return struct.pack(GGUF_FMT[t], v)


def gguf(kvs, tensors, version=3, align=32):
    """kvs: [(key, type, value)]; tensors: [(name, [ne...], ggml_type)] with random block bytes
    (f16 scales kept small so values are finite)."""
    b = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        b += gguf_str(k) + struct.pack("<I", t) + gguf_value(t, v)
    data, off = b"", 0
    for name, ne, typ in tensors:
        blk, bb = GGML_BLOCK[typ]
        n = 1
        for x in ne:
            n *= x
        nbytes = n // blk * bb
        b += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
        b += struct.pack("<IQ", typ, off)
        raw = bytearray(rng.getrandbits(8) for _ in range(nbytes))
        if typ != 0 and typ != 15:
            for i in range(1, len(raw), 2):
                raw[i] &= 0x3B   # f16 high bytes: small exponents, no Inf/NaN
        else:
            for i in range(3, len(raw), 4):
                raw[i] &= 0x3E
        data += bytes(raw) + b"\0" * ((-nbytes) % align)
        off += nbytes + (-nbytes) % align
    b += b"\0" * ((-len(b)) % align)
    return b + data


def gguf_llama(typ=0, d=32, V=40, ff=64, arch="llama", tok=True):
    kv = [("general.architecture", 8, arch), (f"{arch}.embedding_length", 4, d), (f"{arch}.block_count", 4, 1),
          (f"{arch}.attention.head_count", 4, 2), (f"{arch}.attention.head_count_kv", 4, 1),
          (f"{arch}.feed_forward_length", 4, ff), (f"{arch}.context_length", 4, 32),
          (f"{arch}.attention.layer_norm_rms_epsilon", 6, 1e-5), (f"{arch}.rope.freq_base", 6, 10000.0),
          ("general.alignment", 4, 32)]
    if tok:
        toks = ["<s>", "</s>"] + [chr(c) for c in range(97, 97 + V - 4)] + ["ab", "abc"]
        kv += [("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "qwen2"),
               ("tokenizer.ggml.tokens", 9, (8, toks)), ("tokenizer.ggml.token_type", 9, (5, [3, 3] + [1] * (V - 2))),
               ("tokenizer.ggml.merges", 9, (8, ["a b", "ab c"])), ("tokenizer.ggml.bos_token_id", 4, 0),
               ("tokenizer.ggml.add_bos_token", 7, 1), ("general.mixed", 9, (11, [-1, 2**40])),
               ("general.f64", 12, 0.5), ("general.i16", 3, -7)]
    kd = d // 2
    ts = [("token_embd.weight", [d, V], typ), ("blk.0.attn_norm.weight", [d], 0), ("blk.0.attn_q.weight", [d, d], typ),
          ("blk.0.attn_k.weight", [d, kd], typ), ("blk.0.attn_v.weight", [d, kd], typ),
          ("blk.0.attn_output.weight", [d, d], typ), ("blk.0.ffn_norm.weight", [d], 0),
          ("blk.0.ffn_gate.weight", [d, ff], typ), ("blk.0.ffn_up.weight", [d, ff], typ),
          ("blk.0.ffn_down.weight", [ff, d], typ), ("output_norm.weight", [d], 0)]
    return gguf(kv, ts)


out("gguf", "llama_f32", gguf_llama(0))
out("gguf", "llama_q8_0", gguf_llama(8))
out("gguf", "llama_q4_0_v2", gguf_llama(2)[:4] + struct.pack("<I", 2) + gguf_llama(2)[8:])
out("gguf", "qwen2_f16_notok", gguf_llama(1, arch="qwen2", tok=False))
out("gguf", "k_quants", gguf([("general.architecture", 8, "llama")],
                              [(f"t{t}", [256, 1], t) for t in (10, 11, 12, 13, 14, 15)] + [("q51", [32, 2], 7), ("q41", [64], 3)]))
out("gguf", "kv_only", gguf([("general.architecture", 8, "gpt2"), ("a", 9, (0, [1, 2, 3])), ("b", 7, 1)], []))
out("gguf", "empty", gguf([], []))


# ---- generation_config.json: sampling defaults, numbers as ints and floats, unapplied fields -------
out("gencfg", "qwen3.json", '{"bos_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643], '
    '"pad_token_id": 151643, "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"}')
out("gencfg", "types.json", '{"do_sample": true, "temperature": 2, "top_k": 50.0, "top_p": 1, "repetition_penalty": 1.05}')
out("gencfg", "nested.json", '{"a": {"top_k": 5.0, "b": [1, {"temperature": 3}]}, "s": "\\"top_k\\": 6.0", '
    '"top_k": 7, "temperature": 3.5e0, "min_p": 0.05, "do_sample": true}')
out("gencfg", "bad.json", '{"do_sample": "yes", "temperature": [1], "top_k": -1, "top_p": 0, "typical_p": "x", '
    '"no_repeat_ngram_size": 3}')
out("gencfg", "nulls.json", '{"do_sample": null, "temperature": null, "top_k": null, "top_p": null, "epsilon_cutoff": null}')
