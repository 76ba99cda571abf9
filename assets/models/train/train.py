#!/usr/bin/env python3
"""Train and measure the llmscope story family: the bundled lesson models and the architecture sweep.

One command trains every variant of the family with several seeds, on one or more CUDA GPUs, measures
each run on all of valid.txt exactly as the C engine's `llmscope eval` does, and writes
assets/models/family.json with intervals.  The variants share width (192), depth (6), 8 query heads of
24 dims, vocabulary, context (512), data, steps, batch and schedule; each differs only in the part it
is about:

  mha          Llama, 8 KV heads                    gqa4 / gqa2   Llama, 4 / 2 KV heads
  mqa          Llama, 1 KV head                     mqa-ffn432    MQA with the FFN widened to MHA's parameters
  mla32..128   DeepSeek-V3 MLA, latent d_c 32/64/96/128 + a shared 8-dim RoPE key
  gpt2         GPT-2 (learned positions, LayerNorm, GELU MLP)
  moe          Mixtral: GQA (2 KV heads) + 8 experts, top-2

Training uses compact PyTorch modules written here (the whole optimizer step of each run is captured
as one CUDA graph, since these models are far too small to keep a GPU busy launch by launch).  The
weights are written under transformers' names, so every checkpoint loads with AutoModelForCausalLM;
`finalize` reloads the bundled ones with transformers, checks that its logits and its valid.txt loss
equal ours, and writes their reference.json from transformers.  From the repository root:

  # on a CUDA machine with torch, transformers 5.17, tokenizers 0.23 (the tokenizer is the bundled one)
  python3 assets/models/train/train.py family --data ../shared/data/tinystories \\
      --tokenizer assets/models/story-gqa/tokenizer.json --out family-out --teacher-seconds 90 --budget 510 --reserve 80
  # first samples fresh stories from ../shared/data/stories260K (--gen-stories, on the GPUs), then trains a
  # larger teacher with our tokenizer (GPU 0), then the students, distilled from it (RECIPE's kd);
  # writes family-out/{family.json, runs.json, bundle-*.tar}; then, on any machine:
  python3 assets/models/train/train.py install --from family-out    # untar into assets/models
  python3 assets/models/train/train.py assemble --runs family-out/runs.json   # rewrite family.json
  python3 assets/models/train/train.py check                         # needs transformers

See README.md beside this file.
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(MODELS_DIR))
EVAL_TXT = os.path.join(MODELS_DIR, "eval.txt")

SPECIAL = "<|endoftext|>"   # BOS and EOS, id 0
VOCAB = 2048
SEED = 1337

# shared shape
D_MODEL = 192
N_LAYERS = 6
N_HEADS = 8
HEAD_DIM = D_MODEL // N_HEADS          # 24
FFN = 320                              # SwiGLU hidden size (GPT-2: n_inner 480, same parameter count)
CTX = 512
ROPE_THETA = 10000.0
EPS = 1e-5
MLA_ROPE_DIM = 8
MLA_NOPE_DIM = 16
MOE_EXPERTS = 8
MOE_TOPK = 2
MOE_FFN = 112
MOE_AUX_COEF = 0.01
JOIN_P = 0.5          # chance that a training story continues the previous one after a blank line
VALID_PREFIX_BYTES = 20000   # the slice of valid.txt that `make test` re-checks against the C engine

# the family; `ffn` is the SwiGLU hidden size of the dense models
# label / label_zh: how the trade-off view names a variant in the English and the Chinese UI
VARIANTS = [
    dict(name="mha", arch="llama", attention="MHA", kv_heads=8, ffn=FFN, label="MHA, 8 KV heads", label_zh="MHA，8 个 KV 头"),
    dict(name="gqa4", arch="llama", attention="GQA", kv_heads=4, ffn=FFN, label="GQA, 4 KV heads", label_zh="GQA，4 个 KV 头"),
    dict(name="gqa2", arch="llama", attention="GQA", kv_heads=2, ffn=FFN, label="GQA, 2 KV heads", label_zh="GQA，2 个 KV 头"),
    dict(name="mqa", arch="llama", attention="MQA", kv_heads=1, ffn=FFN, label="MQA, 1 KV head", label_zh="MQA，1 个 KV 头"),
    dict(name="mqa-ffn432", arch="llama", attention="MQA", kv_heads=1, ffn=432,
         label="MQA, FFN 432 (MHA's parameter count)", label_zh="MQA，FFN 432（与 MHA 参数量相同）"),
    dict(name="mla32", arch="mla", attention="MLA", kv_latent=32, ffn=FFN, label="MLA, latent 32", label_zh="MLA，潜向量 32"),
    dict(name="mla64", arch="mla", attention="MLA", kv_latent=64, ffn=FFN, label="MLA, latent 64", label_zh="MLA，潜向量 64"),
    dict(name="mla96", arch="mla", attention="MLA", kv_latent=96, ffn=FFN, label="MLA, latent 96", label_zh="MLA，潜向量 96"),
    dict(name="mla128", arch="mla", attention="MLA", kv_latent=128, ffn=FFN, label="MLA, latent 128", label_zh="MLA，潜向量 128"),
    dict(name="gpt2", arch="gpt2", attention="MHA", kv_heads=8, ffn=FFN * 3 // 2, label="GPT-2 (MHA, learned positions)",
         label_zh="GPT-2（MHA，可学习的位置嵌入）"),
    dict(name="moe", arch="moe", attention="GQA", kv_heads=2, ffn=MOE_FFN, label="MoE: GQA 2 + 8 experts top-2",
         label_zh="MoE：GQA 2 + 8 个专家取前 2"),
]
# The distillation teacher (recipes with `kd` > 0): a larger Llama with the family's tokenizer, trained on the
# same data first; never bundled.
TEACHER = dict(name="teacher", arch="llama", attention="MHA", kv_heads=12, ffn=1024, d=384, layers=8, heads=12,
               label="teacher (Llama, d 384, 8 layers)")
VBYNAME = {v["name"]: v for v in VARIANTS + [TEACHER]}
SEEDS = [0, 1, 2]
BUNDLE_SEED = 0        # the seed that is bundled, fixed before training
# bundled directory -> variant, fixed before training (story-mla is d_c 64, whatever the latents measure,
# so that nothing bundled is selected on valid.txt)
BUNDLE = {"story-mha": "mha", "story-gqa": "gqa2", "story-mqa": "mqa", "story-mla": "mla64",
          "story-gpt2": "gpt2", "story-moe": "moe"}
# The training recipe (data mix and schedule).  `real`: share of each batch's rows drawn from train.txt
# (the rest from the stories260K samples); `gen`: add the fresh samples of `train.py generate` to those;
# `anneal_frac`/`anneal_real`: for the last fraction of the steps, draw this share from train.txt instead;
# cosine from `lr` to `min_lr`·lr after `warmup` steps; AdamW weight decay `wd` on matrices.
# Chosen from recipes-explore.json (second entry: MHA, seed 0, 1,200 steps): fresh samples and a peak LR of 5e-3 helped,
# a larger share of train.txt or a real-heavy anneal overfit its 267k tokens.
# `kd`: weight of distillation from the teacher in the rows not drawn from train.txt (`kd_real`: in those rows);
# `drop`: dropout in the real rows; `ema`: decays of moving averages of the weights, `keep`: the weights saved.
# Distillation and a short moving average were chosen by its first entry (MHA and GPT-2, 1,000 steps,
# measured on 120 stories held out of train.txt; valid.txt was not read); half of each real row's loss on
# the teachers' distribution (`kd_real` 0.5) by its tenth (MHA and MoE, 1,400 steps, held-out curves: with
# hard labels alone the real stories were learned by heart after about 800 steps).
RECIPE = dict(lr=5e-3, wd=0.1, warmup=150, min_lr=0.1, real=0.07, gen=True, anneal_frac=0.0, anneal_real=0.0,
              kd=1.0, kd_real=0.5, drop=0.0, ema=[0.99], keep="ema0.99")
# the teacher's recipe (on top of RECIPE): a larger model, so a lower peak LR, and dropout in the real rows
TEACHER_RECIPE = dict(lr=2e-3, drop=0.1, kd=0.0, kd_real=0.0, ema=[], keep="final")
RELATIVE_COST = {"moe": 1.7, "gpt2": 1.0}   # GPU time per step against a dense Llama, for balancing


def kv_elems(v):
    """Elements cached per token and layer (K and V, or MLA's latent + shared RoPE key)."""
    if v["arch"] == "mla":
        return v["kv_latent"] + MLA_ROPE_DIM
    return 2 * v["kv_heads"] * HEAD_DIM


def kv_bytes_per_token(v):
    return kv_elems(v) * N_LAYERS * 2          # bf16, all layers


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def real_stories(path):
    """train.txt/valid.txt: stories separated by a single newline, paragraphs by a blank line."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [s.strip() for s in re.split(r"(?<!\n)\n(?!\n)", text) if s.strip()]


def sampled_stories(path):
    """sampled-stories260K: stories separated by a blank line, paragraphs by one newline.
    Paragraph breaks are rewritten to blank lines, the format of the real stories."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    out = []
    for s in text.split("\n\n"):
        s = s.strip()
        if s:
            out.append(re.sub(r"\n+", "\n\n", s))
    return out


def train_tokenizer(data_dir, out_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    stories = real_stories(os.path.join(data_dir, "train.txt"))
    stories += sampled_stories(os.path.join(data_dir, "sampled-stories260K.txt.gz"))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=[SPECIAL],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(stories, trainer=trainer)
    assert tok.token_to_id(SPECIAL) == 0
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tok.save(out_path)
    valid = open(os.path.join(data_dir, "valid.txt"), encoding="utf-8").read()
    n = len(tok.encode(valid).ids)
    ev = open(EVAL_TXT, encoding="utf-8").read()
    ne = len(tok.encode(ev).ids)
    print("tokenizer: vocab %d, valid.txt %d bytes -> %d tokens (%.3f bytes/token); eval.txt %d bytes -> "
          "%d tokens (+BOS = %d, must be <= %d)" % (tok.get_vocab_size(), len(valid.encode()), n,
                                                    len(valid.encode()) / n, len(ev.encode()), ne, ne + 1, CTX))


def byte_lengths(tok):
    """Number of UTF-8 bytes each token of a byte-level BPE stands for."""
    # The byte-level alphabet: printable Latin-1 bytes map to themselves, the others to U+0100 + n.
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    char_to_byte, extra = {}, 0
    for b in range(256):
        if b in printable:
            char_to_byte[chr(b)] = b
        else:
            char_to_byte[chr(256 + extra)] = b
            extra += 1
    lens = [0] * tok.get_vocab_size()
    for piece, i in tok.get_vocab().items():
        if piece == SPECIAL:
            continue
        lens[i] = len(piece)
        assert all(c in char_to_byte for c in piece), piece
    return lens


def teacher_pieces(tok_bin):
    """The byte string of every stories260K token, from llama2.c's tokenizer file (max length, then per
    token: float score, int length, bytes); byte tokens are written <0xNN>."""
    raw = open(tok_bin, "rb").read()
    off, out = 4, []
    while off < len(raw):
        _, n = struct.unpack_from("<fi", raw, off)
        piece = raw[off + 8:off + 8 + n]
        off += 8 + n
        m = re.fullmatch(rb"<0x([0-9A-Fa-f]{2})>", piece)
        out.append(bytes([int(m.group(1), 16)]) if m else piece)
    return out


def generate(args):
    """Fresh stories from stories260K, sampled as sampled-stories260K.txt.gz was: temperature 1.0 from
    BOS, cut at BOS/EOS, stories over 40 tokens kept (one that fills the 512-token context without
    ending is dropped); paragraphs one newline apart, stories a blank line apart, gzip."""
    import torch
    from transformers import AutoModelForCausalLM
    t0 = time.time()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(args.teacher, dtype=torch.float32).to(dev).eval()
    pieces = teacher_pieces(args.teacher_tokenizer)
    bos, eos, ctx = 1, 2, model.config.max_position_embeddings
    g = torch.Generator(device=dev).manual_seed(args.seed)
    stories, drawn = [], 0
    with torch.no_grad():
        while drawn < args.n:
            b = min(args.batch, args.n - drawn)
            drawn += b
            x = torch.full((b, 1), bos, dtype=torch.long, device=dev)
            out = model(input_ids=x, use_cache=True)
            pkv, toks = out.past_key_values, []
            done = torch.zeros(b, dtype=torch.bool, device=dev)
            for _ in range(ctx - 1):
                p = torch.softmax(out.logits[:, -1].float(), -1)
                nxt = torch.multinomial(p, 1, generator=g)
                toks.append(nxt)
                done |= (nxt[:, 0] == bos) | (nxt[:, 0] == eos)
                if bool(done.all()):
                    break
                out = model(input_ids=nxt, past_key_values=pkv, use_cache=True)
                pkv = out.past_key_values
            ids = torch.cat(toks, 1).cpu().tolist()
            for row in ids:
                end = next((i for i, t in enumerate(row) if t in (bos, eos)), None)
                if end is None or end <= 40:
                    continue
                text = b"".join(pieces[t] for t in row[:end]).decode("utf-8", "ignore").strip()
                text = re.sub(r"\n+", "\n", text)
                if text:
                    stories.append(text)
            print("generate: %d drawn, %d kept, %.1f s" % (drawn, len(stories), time.time() - t0), flush=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        f.write("\n\n".join(stories) + "\n")
    print("generate: %d stories, %d bytes -> %s in %.1f s" % (
        len(stories), sum(len(t.encode()) + 2 for t in stories), args.out, time.time() - t0), flush=True)
    return 0


def make_stream(tok, stories, seed):
    """Shuffle stories (seed) into documents of one or more stories joined by a blank line, as valid.txt
    joins them (it separates stories and paragraphs alike by a blank line); every document starts with
    <|endoftext|>.  Returns the token stream and the offsets where documents start."""
    import torch
    stories = list(stories)
    random.Random(seed).shuffle(stories)
    rng = random.Random(seed + 1)
    docs, i = [], 0
    while i < len(stories):
        k = 1
        while i + k < len(stories) and rng.random() < JOIN_P:
            k += 1
        docs.append("\n\n".join(stories[i:i + k]))
        i += k
    enc = tok.encode_batch(docs, add_special_tokens=False)   # BOS is placed by hand below
    eos = tok.token_to_id(SPECIAL)
    stream, starts = [], []
    for e in enc:
        starts.append(len(stream))
        stream.append(eos)
        stream.extend(e.ids)
    return torch.tensor(stream, dtype=torch.int32), torch.tensor(starts, dtype=torch.int64)


def prepare(data_dir, tok_path, cache, gen_path=None, holdout=0):
    """Tokenise the training streams and valid.txt once; workers load the cache.  Three streams:
    `real` (train.txt), `samp` (sampled-stories260K) and `gen` (fresh stories260K samples written by
    `train.py generate`, if any); a recipe says which share of each batch comes from `real`."""
    import torch
    from tokenizers import Tokenizer
    t0 = time.time()
    tok = Tokenizer.from_file(tok_path)
    eos = tok.token_to_id(SPECIAL)
    real = real_stories(os.path.join(data_dir, "train.txt"))
    held = []
    if holdout > 0:
        # choosing recipes: every k-th real story is held out of training and is the evaluation text instead
        # of valid.txt, which is then not read at all
        k = max(2, len(real) // holdout)
        held = [t for i, t in enumerate(real) if i % k == k // 2][:holdout]
        hs = set(held)
        real = [t for t in real if t not in hs]
    samp = sampled_stories(os.path.join(data_dir, "sampled-stories260K.txt.gz"))
    gen = [t for g in (gen_path or []) for t in sampled_stories(g)]
    streams = {"real": make_stream(tok, real, SEED), "samp": make_stream(tok, samp, SEED + 2)}
    if gen:
        streams["gen"] = make_stream(tok, gen, SEED + 4)
    if held:
        valid_text = "\n\n".join(held) + "\n"      # valid.txt's layout: stories a blank line apart
        eval_name = "train.txt held out (%d stories)" % len(held)
    else:
        valid_text = open(os.path.join(data_dir, "valid.txt"), encoding="utf-8").read()
        eval_name = "valid.txt"
    vids, vbytes = text_ids(tok, valid_text)
    unit_starts = valid_units(valid_text)
    tok_unit = token_units(vids, byte_lengths(tok), unit_starts)
    torch.save({"streams": streams,
                "stories": {"real": len(real), "samp": len(samp), "gen": len(gen)},
                "valid": torch.tensor([eos] + vids, dtype=torch.int64),     # [BOS] + text, as the C engine builds it
                "valid_unit": torch.tensor(tok_unit, dtype=torch.int64),   # unit of each scored token
                "unit_bytes": unit_bytes(unit_starts, vbytes),
                "eval_name": eval_name,
                "valid_bytes": vbytes}, cache)
    print("data: stories real %d, sampled %d, generated %d; tokens %s; eval on %s: %d tokens, %d bytes, %d units; "
          "%.1f s" % (len(real), len(samp), len(gen), ", ".join("%s %d" % (k, v[0].numel()) for k, v in streams.items()),
                      eval_name, len(vids), vbytes, len(unit_starts), time.time() - t0), flush=True)


def text_ids(tok, text):
    """The ids of a text (no BOS) and its length in bytes, checked against the tokens' byte lengths."""
    ids = tok.encode(text, add_special_tokens=False).ids
    nbytes = len(text.encode("utf-8"))
    blen = byte_lengths(tok)
    assert sum(blen[i] for i in ids) == nbytes, "byte accounting mismatch"
    return ids, nbytes


def valid_units(text):
    """Byte offsets where the bootstrap units of valid.txt start.  valid.txt separates stories by a
    blank line like paragraphs (a single newline in a few places), so a unit starts at the text's
    start, after each single newline, and at each paragraph that opens with "Once upon a time":
    one story, or a few where a story opens differently; spans over 3,000 bytes are cut at blank lines
    into blocks of about 1,500 bytes."""
    b = text.encode("utf-8")
    starts = {0}
    for m in re.finditer(rb"(?<!\n)\n(?!\n)", b):
        starts.add(m.end())
    for m in re.finditer(rb"\n\nOnce upon a time", b):
        starts.add(m.start() + 2)
    starts = sorted(s for s in starts if s < len(b))
    # a few long spans hold many stories without that opening: cut them at blank lines, ~1,500 bytes a block
    out = []
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(b)
        out.append(s)
        if end - s > 3000:
            p = s
            while True:
                q = b.find(b"\n\n", p + 1500, end)
                if q < 0 or end - (q + 2) < 750:
                    break
                out.append(q + 2)
                p = q + 2
    return out


def unit_bytes(starts, nbytes):
    return [(starts[i + 1] if i + 1 < len(starts) else nbytes) - starts[i] for i in range(len(starts))]


def token_units(ids, blen, starts):
    """The unit of each token: the one holding the token's first byte."""
    import bisect
    out, pos = [], 0
    for t in ids:
        out.append(bisect.bisect_right(starts, pos) - 1)
        pos += blen[t]
    return out


# --------------------------------------------------------------------------
# models: compact PyTorch modules with transformers' semantics
# --------------------------------------------------------------------------

_NN = {}


def nn_lib():
    """The model classes (built on first use, so that `assemble` runs without torch)."""
    if _NN:
        return _NN
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def rms(x, w):
        if hasattr(F, "rms_norm"):      # in float32, as transformers' RMSNorm computes it
            return F.rms_norm(x.float(), (x.shape[-1],), w.float(), EPS)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * w

    def attend(q, k, v, scale):
        """Causal attention; q, k, v: [B, H, T, d] (k and v already repeated to H heads)."""
        if hasattr(F, "scaled_dot_product_attention"):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        T = q.shape[-2]
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        return torch.matmul(torch.softmax(s.float(), -1).to(v.dtype), v)

    def rope_table(dim):
        inv = 1.0 / (ROPE_THETA ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        f = torch.outer(torch.arange(CTX, dtype=torch.int64).float(), inv)
        emb = torch.cat([f, f], -1)
        return emb.cos(), emb.sin()

    def rope(x, cos, sin):
        """transformers' rotate-half RoPE; x: [B, H, T, d], cos/sin: [T, d]."""
        h = x.shape[-1] // 2
        rot = torch.cat((-x[..., h:], x[..., :h]), -1)
        return x * cos.to(x.dtype) + rot * sin.to(x.dtype)

    def deinterleave(x):
        """DeepSeek-V3 with rope_interleave: pairs (0,1),(2,3).. become halves, as transformers does."""
        b, h, s, d = x.shape
        return x.reshape(b, h, s, d // 2, 2).transpose(4, 3).reshape(b, h, s, d)

    def lin(i, o):
        return nn.Linear(i, o, bias=False)

    def dropout_rows(t, rate):
        """Dropout with a rate per batch row (rate: [B, 1, 1]; 0 leaves a row unchanged): the recipes drop
        only in the rows drawn from the real stories, the data that is repeated and overfits."""
        keep = (torch.rand_like(t, dtype=torch.float32) >= rate).to(t.dtype)
        return t * keep / (1.0 - rate).to(t.dtype)

    class Block(nn.Module):
        def __init__(self, v):
            super().__init__()
            self.arch = v["arch"]
            D, H = v.get("d", D_MODEL), v.get("heads", N_HEADS)
            hd = D // H
            self.D, self.H, self.hd = D, H, hd
            if self.arch == "gpt2":
                self.ln1_w, self.ln1_b = nn.Parameter(torch.ones(D)), nn.Parameter(torch.zeros(D))
                self.ln2_w, self.ln2_b = nn.Parameter(torch.ones(D)), nn.Parameter(torch.zeros(D))
                # Conv1D layout: weight [in, out]
                self.c_attn_w, self.c_attn_b = nn.Parameter(torch.empty(D, 3 * D)), nn.Parameter(torch.zeros(3 * D))
                self.c_proj_w, self.c_proj_b = nn.Parameter(torch.empty(D, D)), nn.Parameter(torch.zeros(D))
                self.c_fc_w, self.c_fc_b = nn.Parameter(torch.empty(D, v["ffn"])), nn.Parameter(torch.zeros(v["ffn"]))
                self.c_fcp_w, self.c_fcp_b = nn.Parameter(torch.empty(v["ffn"], D)), nn.Parameter(torch.zeros(D))
                return
            self.ln1, self.ln2 = nn.Parameter(torch.ones(D)), nn.Parameter(torch.ones(D))
            if self.arch == "mla":
                self.dc = v["kv_latent"]
                self.q = lin(D, H * (MLA_NOPE_DIM + MLA_ROPE_DIM))
                self.kv_a = lin(D, self.dc + MLA_ROPE_DIM)
                self.kv_norm = nn.Parameter(torch.ones(self.dc))
                self.kv_b = lin(self.dc, H * (MLA_NOPE_DIM + hd))
            else:
                self.kv = v["kv_heads"]
                self.q, self.k, self.v = lin(D, H * hd), lin(D, self.kv * hd), lin(D, self.kv * hd)
            self.o = lin(H * hd, D)
            if self.arch == "moe":
                E, I = MOE_EXPERTS, v["ffn"]
                self.router = lin(D, E)
                self.w1 = nn.Parameter(torch.empty(E, I, D))
                self.w3 = nn.Parameter(torch.empty(E, I, D))
                self.w2 = nn.Parameter(torch.empty(E, D, I))
            else:
                self.gate, self.up, self.down = lin(D, v["ffn"]), lin(D, v["ffn"]), lin(v["ffn"], D)

        def forward(self, x, cos, sin, drop=None):
            B, T, D = x.shape
            H, hd = self.H, self.hd
            aux = None
            dr = (lambda t: t) if drop is None else (lambda t: dropout_rows(t, drop))
            if self.arch == "gpt2":
                h = F.layer_norm(x, (D,), self.ln1_w, self.ln1_b, EPS)
                qkv = F.linear(h, self.c_attn_w.t(), self.c_attn_b)
                q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4).unbind(0)
                a = attend(q, k, v, hd ** -0.5)
                x = x + dr(F.linear(a.transpose(1, 2).reshape(B, T, D), self.c_proj_w.t(), self.c_proj_b))
                h = F.layer_norm(x, (D,), self.ln2_w, self.ln2_b, EPS)
                h = F.gelu(F.linear(h, self.c_fc_w.t(), self.c_fc_b), approximate="tanh")
                return x + dr(F.linear(h, self.c_fcp_w.t(), self.c_fcp_b)), aux
            h = rms(x, self.ln1)
            if self.arch == "mla":
                R, N = MLA_ROPE_DIM, MLA_NOPE_DIM
                q = self.q(h).view(B, T, H, N + R).transpose(1, 2)
                q_nope, q_pe = q.split([N, R], -1)
                c, k_pe = self.kv_a(h).split([self.dc, R], -1)
                kv = self.kv_b(rms(c, self.kv_norm)).view(B, T, H, N + hd).transpose(1, 2)
                k_nope, val = kv.split([N, hd], -1)
                q_pe = rope(deinterleave(q_pe), cos, sin)
                k_pe = rope(deinterleave(k_pe.reshape(B, 1, T, R)), cos, sin)
                qq = torch.cat([q_nope, q_pe], -1)
                kk = torch.cat([k_nope, k_pe.expand(B, H, T, R)], -1)
                a = attend(qq, kk, val, (N + R) ** -0.5)
            else:
                q = rope(self.q(h).view(B, T, H, hd).transpose(1, 2), cos, sin)
                k = rope(self.k(h).view(B, T, self.kv, hd).transpose(1, 2), cos, sin)
                val = self.v(h).view(B, T, self.kv, hd).transpose(1, 2)
                if self.kv < H:      # transformers' repeat_kv: KV head j serves query heads j*r .. j*r+r-1
                    k = k.repeat_interleave(H // self.kv, dim=1)
                    val = val.repeat_interleave(H // self.kv, dim=1)
                a = attend(q, k, val, hd ** -0.5)
            x = x + dr(self.o(a.transpose(1, 2).reshape(B, T, H * hd)))
            h = rms(x, self.ln2)
            if self.arch == "moe":
                y, aux = self.moe(h.reshape(B * T, D))
                return x + dr(y.view(B, T, D)), aux
            return x + dr(self.down(F.silu(self.gate(h)) * self.up(h))), aux

        def moe(self, x):
            """Mixtral routing (softmax, top-2, renormalised).  Every expert runs on every token and
            the outputs are mixed by the routing weights, which are zero for experts not chosen: the
            same function as the top-k loop, in a fixed number of kernels."""
            logits = self.router(x)
            p = torch.softmax(logits.float(), -1)
            topv, topi = torch.topk(p, MOE_TOPK, -1)
            topv = topv / topv.sum(-1, keepdim=True)
            w = torch.zeros_like(p).scatter(1, topi, topv)
            g = torch.matmul(x, self.w1.transpose(1, 2))
            u = torch.matmul(x, self.w3.transpose(1, 2))
            out = torch.matmul(F.silu(g) * u, self.w2.transpose(1, 2))          # [E, N, D]
            y = (out * w.t().unsqueeze(-1).to(out.dtype)).sum(0)
            frac = torch.zeros_like(p).scatter(1, topi, 1.0).mean(0) / MOE_TOPK
            aux = MOE_EXPERTS * (frac * p.mean(0)).sum()                     # Switch balance loss
            return y.to(x.dtype), aux

    class Fam(nn.Module):
        def __init__(self, v):
            super().__init__()
            self.variant = v
            self.arch = v["arch"]
            self.D, L = v.get("d", D_MODEL), v.get("layers", N_LAYERS)
            self.embed = nn.Embedding(VOCAB, self.D)
            if self.arch == "gpt2":
                self.wpe = nn.Parameter(torch.empty(CTX, self.D))
                self.lnf_w, self.lnf_b = nn.Parameter(torch.ones(self.D)), nn.Parameter(torch.zeros(self.D))
            else:
                self.norm = nn.Parameter(torch.ones(self.D))
            self.blocks = nn.ModuleList([Block(v) for _ in range(L)])
            cos, sin = rope_table(MLA_ROPE_DIM if self.arch == "mla" else self.D // v.get("heads", N_HEADS))
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)
            # init: N(0, 0.02); projections into the residual stream N(0, 0.02/sqrt(2 L)); norms 1, biases 0
            for n, p in self.named_parameters():
                if p.ndim >= 2:
                    out_proj = n.endswith(("o.weight", "down.weight", "w2", "c_proj_w", "c_fcp_w"))
                    nn.init.normal_(p, 0.0, 0.02 / (math.sqrt(2 * L) if out_proj else 1.0))

        def forward(self, ids, drop=None):
            T = ids.shape[1]
            x = self.embed(ids)
            if self.arch == "gpt2":
                x = x + self.wpe[:T]
            if drop is not None:
                x = dropout_rows(x, drop)
            cos, sin = self.cos[:T], self.sin[:T]
            aux = 0.0
            for b in self.blocks:
                x, a = b(x, cos, sin, drop)
                if a is not None:
                    aux = aux + a
            if self.arch == "gpt2":
                x = F.layer_norm(x, (self.D,), self.lnf_w, self.lnf_b, EPS)
            else:
                x = rms(x, self.norm)
            return F.linear(x, self.embed.weight), aux / len(self.blocks)

    _NN.update(Fam=Fam, torch=torch, F=F)
    return _NN


def hf_state(model):
    """The model's weights under transformers' names, in bf16 (the layout of the bundled files)."""
    import torch
    sd, arch = {}, model.arch

    def put(k, t):
        sd[k] = t.detach().to("cpu", torch.bfloat16).contiguous()
    if arch == "gpt2":
        put("transformer.wte.weight", model.embed.weight)
        put("transformer.wpe.weight", model.wpe)
        put("transformer.ln_f.weight", model.lnf_w)
        put("transformer.ln_f.bias", model.lnf_b)
        for i, b in enumerate(model.blocks):
            p = "transformer.h.%d." % i
            for a, w in (("ln_1.weight", b.ln1_w), ("ln_1.bias", b.ln1_b), ("ln_2.weight", b.ln2_w),
                         ("ln_2.bias", b.ln2_b), ("attn.c_attn.weight", b.c_attn_w), ("attn.c_attn.bias", b.c_attn_b),
                         ("attn.c_proj.weight", b.c_proj_w), ("attn.c_proj.bias", b.c_proj_b),
                         ("mlp.c_fc.weight", b.c_fc_w), ("mlp.c_fc.bias", b.c_fc_b),
                         ("mlp.c_proj.weight", b.c_fcp_w), ("mlp.c_proj.bias", b.c_fcp_b)):
                put(p + a, w)
        return sd
    put("model.embed_tokens.weight", model.embed.weight)
    put("model.norm.weight", model.norm)
    for i, b in enumerate(model.blocks):
        p = "model.layers.%d." % i
        put(p + "input_layernorm.weight", b.ln1)
        put(p + "post_attention_layernorm.weight", b.ln2)
        put(p + "self_attn.q_proj.weight", b.q.weight)
        put(p + "self_attn.o_proj.weight", b.o.weight)
        if arch == "mla":
            put(p + "self_attn.kv_a_proj_with_mqa.weight", b.kv_a.weight)
            put(p + "self_attn.kv_a_layernorm.weight", b.kv_norm)
            put(p + "self_attn.kv_b_proj.weight", b.kv_b.weight)
        else:
            put(p + "self_attn.k_proj.weight", b.k.weight)
            put(p + "self_attn.v_proj.weight", b.v.weight)
        if arch == "moe":
            q = p + "block_sparse_moe."
            put(q + "gate.weight", b.router.weight)
            for e in range(MOE_EXPERTS):
                put(q + "experts.%d.w1.weight" % e, b.w1[e])
                put(q + "experts.%d.w2.weight" % e, b.w2[e])
                put(q + "experts.%d.w3.weight" % e, b.w3[e])
        else:
            put(p + "mlp.gate_proj.weight", b.gate.weight)
            put(p + "mlp.up_proj.weight", b.up.weight)
            put(p + "mlp.down_proj.weight", b.down.weight)
    return sd


def write_safetensors(path, sd):
    """A safetensors file (bf16 tensors, names sorted), written without the safetensors package."""
    import torch
    header, blobs, off = {}, [], 0
    for k in sorted(sd):
        t = sd[k]
        assert t.dtype == torch.bfloat16
        raw = t.view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_config(v):
    """config.json for transformers 5.17 (the keys it writes itself)."""
    common = {"bos_token_id": 0, "dtype": "bfloat16", "eos_token_id": 0, "pad_token_id": None,
              "tie_word_embeddings": True, "transformers_version": "5.17.0", "use_cache": True, "vocab_size": VOCAB}
    rope = {"rope_theta": ROPE_THETA, "rope_type": "default"}
    llama = {"attention_bias": False, "attention_dropout": 0.0, "hidden_act": "silu", "hidden_size": D_MODEL,
             "initializer_range": 0.02, "intermediate_size": v["ffn"], "max_position_embeddings": CTX,
             "num_attention_heads": N_HEADS, "num_hidden_layers": N_LAYERS, "rms_norm_eps": EPS,
             "rope_parameters": rope}
    if v["arch"] == "llama":
        c = dict(llama, architectures=["LlamaForCausalLM"], model_type="llama", head_dim=HEAD_DIM, mlp_bias=False,
                 num_key_value_heads=v["kv_heads"], pretraining_tp=1)
    elif v["arch"] == "moe":
        c = dict(llama, architectures=["MixtralForCausalLM"], model_type="mixtral", head_dim=None,
                 num_key_value_heads=v["kv_heads"], num_local_experts=MOE_EXPERTS, num_experts_per_tok=MOE_TOPK,
                 output_router_logits=False, router_aux_loss_coef=MOE_AUX_COEF, router_jitter_noise=0.0,
                 sliding_window=None)
    elif v["arch"] == "mla":
        c = dict(llama, architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", first_k_dense_replace=N_LAYERS,
                 head_dim=MLA_ROPE_DIM, kv_lora_rank=v["kv_latent"], moe_intermediate_size=MOE_FFN, n_group=1,
                 n_routed_experts=MOE_EXPERTS, n_shared_experts=1, norm_topk_prob=True, num_experts_per_tok=MOE_TOPK,
                 num_key_value_heads=N_HEADS, num_nextn_predict_layers=1, pretraining_tp=1, q_lora_rank=None,
                 qk_head_dim=MLA_NOPE_DIM + MLA_ROPE_DIM, qk_nope_head_dim=MLA_NOPE_DIM,
                 qk_rope_head_dim=MLA_ROPE_DIM, rope_interleave=True, routed_scaling_factor=1.0, topk_group=1,
                 v_head_dim=HEAD_DIM)
    else:
        c = {"activation_function": "gelu_new", "add_cross_attention": False, "architectures": ["GPT2LMHeadModel"],
             "attn_pdrop": 0.0, "embd_pdrop": 0.0, "initializer_range": 0.02, "layer_norm_epsilon": EPS,
             "model_type": "gpt2", "n_embd": D_MODEL, "n_head": N_HEADS, "n_inner": v["ffn"], "n_layer": N_LAYERS,
             "n_positions": CTX, "reorder_and_upcast_attn": False, "resid_pdrop": 0.0,
             "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "summary_activation": None,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
             "summary_use_proj": True}
    c.update(common)
    return dict(sorted(c.items()))


def save_checkpoint(model, out_dir, tok_path):
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), hf_state(model))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(model.variant), f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0, "transformers_version": "5.17.0"}, f, indent=2)
        f.write("\n")
    if tok_path:
        # The models are trained with <|endoftext|> before every story, so the shipped tokenizer adds it
        # in front of a text (add_special_tokens=True): a TemplateProcessing post-processor in
        # tokenizer.json (for the tokenizers library) and add_bos_token in tokenizer_config.json.
        j = json.load(open(tok_path, encoding="utf-8"))
        j["post_processor"] = {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": SPECIAL, "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": SPECIAL, "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}},
                                        {"SpecialToken": {"id": SPECIAL, "type_id": 1}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {SPECIAL: {"id": SPECIAL, "ids": [0], "tokens": [SPECIAL]}}}
        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": SPECIAL, "eos_token": SPECIAL,
                       "pad_token": SPECIAL, "model_max_length": CTX, "add_bos_token": True,
                       "clean_up_tokenization_spaces": False}, f, indent=1)
            f.write("\n")


def c_windows(n):
    """`llmscope eval`'s windows over ids = [BOS] + text (n ids): windows of CTX ids that overlap by
    one, starting at 0, CTX-1, 2(CTX-1), ...; window [s, s+w) predicts ids s+1 .. s+w-1, so every id
    after the first is scored once."""
    out, s0 = [], 0
    while s0 < n - 1:
        w = min(CTX, n - s0)
        out.append((s0, w))
        s0 += CTX - 1
    return out


def eval_nats(forward, ids, device, batch=32):
    """Per-token nats of ids[1:] under the C engine's protocol, in float32.  forward(x) -> logits."""
    import torch
    import torch.nn.functional as F
    ids = ids.to(device)
    wins = c_windows(ids.numel())
    out = torch.empty(ids.numel() - 1, dtype=torch.float64, device=device)
    with torch.no_grad():
        full = [w for w in wins if w[1] == CTX]
        rest = [w for w in wins if w[1] != CTX]
        for i in range(0, len(full), batch):
            grp = full[i:i + batch]
            x = torch.stack([ids[s:s + w] for s, w in grp])
            lg = forward(x).float()
            nll = F.cross_entropy(lg[:, :-1].reshape(-1, lg.shape[-1]), x[:, 1:].reshape(-1), reduction="none")
            nll = nll.view(len(grp), -1)
            for j, (s, w) in enumerate(grp):
                out[s:s + w - 1] = nll[j]
        for s, w in rest:
            x = ids[s:s + w][None]
            lg = forward(x).float()
            out[s:s + w - 1] = F.cross_entropy(lg[0, :-1], x[0, 1:], reduction="none")
    return out


# --------------------------------------------------------------------------
# training: runs in lockstep per worker process, each step of each run one CUDA graph replay
# --------------------------------------------------------------------------

def lr_at(step, steps, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))


def real_share(rec, step, steps):
    if rec["anneal_frac"] > 0 and steps > 0 and step >= steps * (1.0 - rec["anneal_frac"]):
        return rec["anneal_real"]
    return rec["real"]


class Run:
    """One (variant, seed) with its optimizer and its captured training step."""

    def __init__(self, name, seed, tag, rec, args, device):
        lib = nn_lib()
        torch = lib["torch"]
        self.name, self.seed, self.args, self.device = name, seed, args, device
        self.tag, self.rec = tag, rec
        self.v = VBYNAME[name]
        torch.manual_seed(SEED + 1000 * seed)
        self.model = lib["Fam"](self.v).to(device)
        self.model.train()
        self.params = sum(p.numel() for p in self.model.parameters())
        ps = list(self.model.parameters())

        def groups():
            return [{"params": [p for p in ps if p.ndim >= 2], "weight_decay": rec["wd"]},
                    {"params": [p for p in ps if p.ndim < 2], "weight_decay": 0.0}]
        self.graphable = device != "cpu" and not args.no_graph
        # --compile: the forward pass and the loss through torch.compile (kernels fused; the step is still
        # captured as one CUDA graph).  Students only: the teacher's rows are dropped out at random.
        self.loss_fn = self.loss_terms
        self.compiled = False
        if getattr(args, "compile", False) and device != "cpu" and hasattr(torch, "compile") and name != "teacher":
            # one worker may hold all eleven variants: each is a recompile of loss_terms, and past dynamo's
            # default limit (8) the rest would silently run uncompiled
            import torch._dynamo
            for k in ("recompile_limit", "cache_size_limit"):
                if hasattr(torch._dynamo.config, k):
                    setattr(torch._dynamo.config, k, max(64, getattr(torch._dynamo.config, k)))
            self.loss_fn = torch.compile(self.loss_terms, dynamic=False)
            self.compiled = True
        self.lr_t = torch.tensor(float(rec["lr"]), device=device)
        kw = dict(lr=rec["lr"], betas=(0.9, 0.95), eps=1e-8)
        self.opt = None
        if self.graphable:
            for extra in (dict(fused=True, capturable=True), dict(foreach=True, capturable=True)):
                try:
                    self.opt = torch.optim.AdamW(groups(), **kw, **extra)
                    self.opt_kind = ",".join(k for k in extra)
                    break
                except Exception as e:  # noqa: BLE001 - try the next form
                    print("[%s] AdamW(%s) refused: %s" % (self.label(), extra, e), flush=True)
        if self.opt is None:
            self.opt = torch.optim.AdamW(groups(), **kw)
            self.opt_kind = "default"
            self.graphable = False
        if self.graphable:
            for g in self.opt.param_groups:
                g["lr"] = self.lr_t
        self.x = torch.zeros(args.batch, CTX, dtype=torch.long, device=device)
        self.y = torch.zeros(args.batch, CTX, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        # rows 0..nr-1 of every batch come from the real stories (batch_for puts them first)
        nr = int(round(rec["real"] * args.batch))
        if rec.get("drop", 0) > 0 or rec.get("kd", 0) > 0 or rec.get("kd_real", 0) > 0:
            assert rec.get("anneal_frac", 0) == 0, "drop/kd assume a fixed share of real rows"
        self.drop = None
        if rec.get("drop", 0) > 0:
            self.drop = torch.zeros(args.batch, 1, 1, device=device)
            self.drop[:nr] = float(rec["drop"])
        self.kd = rec.get("kd", 0) > 0 or rec.get("kd_real", 0) > 0
        self.t = None     # the teacher's logits for this run's batch (set by the worker)
        if self.kd:
            self.kdw = torch.full((args.batch, 1), float(rec.get("kd", 0)), device=device)
            self.kdw[:nr] = float(rec.get("kd_real", 0))
        # exponential moving averages of the weights, one per decay
        self.emas = [(float(d), [p.detach().clone() for p in ps]) for d in rec.get("ema", [])]
        self.graph = None
        self.last_step = None
        self.mode = "eager"
        self.log = []

    def label(self):
        return "%s/s%d%s" % (self.name, self.seed, "" if self.tag == "main" else "/" + self.tag)

    def key(self):
        return "%s-s%d%s" % (self.name, self.seed, "" if self.tag == "main" else "-" + self.tag)

    def loss_terms(self, x, y, t, kdw, drop):
        """The forward pass and the loss: (cross-entropy on the data, the loss that is minimised)."""
        torch, F = nn_lib()["torch"], nn_lib()["F"]
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.device != "cpu",
                            cache_enabled=False):
            logits, aux = self.model(x, drop)
        if t is not None:
            # distillation: per row, (1 - w) * cross-entropy on the sampled token + w * cross-entropy on the
            # teacher's whole next-token distribution (= KL to it + the teacher's entropy)
            logp = F.log_softmax(logits.float(), -1)
            hard = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
            soft = -(F.softmax(t.float(), -1) * logp).sum(-1)
            loss = hard.mean()
            total = ((1.0 - kdw) * hard + kdw * soft).mean()
        else:
            loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1))
            total = loss
        if self.v["arch"] == "moe":
            total = total + MOE_AUX_COEF * aux
        return loss, total

    def body(self):
        torch = nn_lib()["torch"]
        loss, total = self.loss_fn(self.x, self.y, self.t if self.kd else None, self.kdw if self.kd else None,
                                   self.drop)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.emas:
            with torch.no_grad():
                ps = list(self.model.parameters())
                for d, e in self.emas:
                    if hasattr(torch, "_foreach_lerp_"):
                        torch._foreach_lerp_(e, ps, 1.0 - d)
                    else:
                        for q, p in zip(e, ps):
                            q.lerp_(p, 1.0 - d)
        self.loss_sum += loss.detach()

    def capture(self, pool):
        """Capture one whole step (forward, backward, clipping, AdamW) as a CUDA graph.  The warm-up
        steps that capturing needs are undone afterwards, so the run starts from its initial state.
        The graphs of one worker share a memory pool: they are replayed in the order captured, and
        what one graph keeps between replays (gradients, optimizer state) is never freed."""
        torch = nn_lib()["torch"]
        if not self.graphable:
            return
        saved = [p.detach().clone() for p in self.model.parameters()]
        t0 = time.time()
        for attempt in ("compiled", "plain") if self.compiled else ("plain",):
            try:
                st = torch.cuda.Stream()
                st.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(st):
                    for _ in range(3 if attempt == "compiled" else 2):   # compiled: the first call compiles
                        self.opt.zero_grad(set_to_none=True)
                        self.body()
                torch.cuda.current_stream().wait_stream(st)
                self.opt.zero_grad(set_to_none=True)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g, pool=pool):
                    self.body()
                self.graph = g
                self.mode = "cuda-graph (%s%s)" % (self.opt_kind, ", compiled" if attempt == "compiled" else "")
                break
            except Exception as e:  # noqa: BLE001 - without compiling, then plain steps
                print("[%s] %s graph capture failed: %s: %s" % (self.label(), attempt, type(e).__name__, e),
                      flush=True)
                self.graph = None
                torch.cuda.synchronize()
                self.loss_fn = self.loss_terms
        if self.graph is None:
            print("[%s] training eagerly" % self.label(), flush=True)
        self.capture_seconds = round(time.time() - t0, 1)
        with torch.no_grad():
            for p, s in zip(self.model.parameters(), saved):
                p.copy_(s)
            for _, e in self.emas:
                for q, s in zip(e, saved):
                    q.copy_(s)
            for st_ in self.opt.state.values():
                for k, t in st_.items():
                    if torch.is_tensor(t):
                        t.zero_()
            self.loss_sum.zero_()
        if self.graph is None:
            self.opt.state.clear()

    def step(self, lr):
        self.lr_t.fill_(lr)
        if self.graph is not None:
            self.graph.replay()
        else:
            if not self.graphable:
                for g in self.opt.param_groups:
                    g["lr"] = lr
            self.opt.zero_grad(set_to_none=True)
            self.body()


def balance(runs, n_bins):
    """Greedy bin packing of (variant, seed) runs by estimated GPU cost."""
    bins = [[] for _ in range(n_bins)]
    cost = [0.0] * n_bins
    for r in sorted(runs, key=lambda r: -RELATIVE_COST.get(r[0], 1.0)):
        i = cost.index(min(cost))
        bins[i].append(r)
        cost[i] += RELATIVE_COST.get(r[0], 1.0)
    return [b for b in bins if b]


def balance_by_key(runs, n_bins):
    """Workers for distillation: each holds runs of one (seed, recipe) batch stream only, so that it computes
    the teacher's logits once per step for all of them; a stream's runs are split over n_bins / streams workers."""
    keys = sorted({(s, t) for _, s, t in runs})
    per = max(1, int(round(n_bins / len(keys))))
    out = []
    for ki, k in enumerate(keys):
        for b in balance([r for r in runs if (r[1], r[2]) == k], per):
            # the streams' workers hold the same variants; each starts compiling at another one, so that
            # most of its variants are already in torch.compile's cache when it comes to them
            off = (ki * max(1, len(b) // len(keys))) % len(b)
            out.append(b[off:] + b[:off])
    return out


def worker(args):
    """Train a group of runs in lockstep, then save and evaluate each."""
    import gc
    parent = os.getppid()     # --wait-teachers gives up when the family that started it is gone
    torch = nn_lib()["torch"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    data = torch.load(args.cache)
    recipes = json.loads(args.recipes)
    streams = {k: (v[0].to(device).long(), v[1]) for k, v in data["streams"].items()}
    if "gen" in streams:
        n0 = streams["samp"][0].numel()
        streams["samp+gen"] = (torch.cat([streams["samp"][0], streams["gen"][0]]),
                               torch.cat([streams["samp"][1], streams["gen"][1] + n0]))
    runs_spec = [(s.split(":")[0], int(s.split(":")[1]), s.split(":")[2]) for s in args.runs.split(",")]
    t0 = time.time()
    runs = [Run(n, s, t, recipes[t], args, device) for n, s, t in runs_spec]
    # distillation: the teacher's logits for each (seed, recipe) batch, computed once per step and read by the
    # captured steps of every run on that batch stream
    # with several teachers the target is their ensemble: the mean of their next-token probabilities,
    # kept as log-probabilities (softmax of the buffer gives the mean back)
    teacher, tbuf, tin, tgraph = None, {}, {}, {}
    if any(r.kd for r in runs):
        # the teachers are built now and their weights loaded in place later (--wait-teachers: they may
        # still be training), so that their forward pass can be captured beforehand
        n_t = len(args.teacher_ckpt.split(",")) if args.teacher_ckpt else args.wait_teachers_n
        teacher = [nn_lib()["Fam"](TEACHER).to(device).eval() for _ in range(n_t)]
        for r in runs:
            if r.kd:
                k = (r.seed, r.tag)
                if k not in tbuf:
                    tbuf[k] = torch.zeros(args.batch, CTX, VOCAB, dtype=torch.bfloat16, device=device)
                    tin[k] = torch.zeros(args.batch, CTX, dtype=torch.long, device=device)
                r.t = tbuf[k]

    def teacher_logits(x):
        with torch.no_grad(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=device != "cpu"):
            if len(teacher) == 1:
                return teacher[0](x)[0]
            lp = torch.stack([torch.log_softmax(tm(x)[0].float(), -1) for tm in teacher])
            return torch.logsumexp(lp, 0) - math.log(len(teacher))
    pool = torch.cuda.graph_pool_handle() if device == "cuda" else None
    for r in runs:
        r.capture(pool)
    t_mode = "eager"
    if teacher is not None and device == "cuda" and not args.no_graph:
        # the teachers' forward pass for each batch stream as one CUDA graph (compiled with --compile)
        t1 = time.time()
        for attempt in ("compiled", "plain") if args.compile and hasattr(torch, "compile") else ("plain",):
            fn = torch.compile(teacher_logits, dynamic=False) if attempt == "compiled" else teacher_logits
            try:
                st = torch.cuda.Stream()
                st.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(st):
                    for k in tin:
                        for _ in range(2):
                            tbuf[k].copy_(fn(tin[k]))
                torch.cuda.current_stream().wait_stream(st)
                tpool = torch.cuda.graph_pool_handle()
                for k in tin:
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g, pool=tpool):
                        tbuf[k].copy_(fn(tin[k]))
                    tgraph[k] = g
                t_mode = "cuda-graph" + (", compiled" if attempt == "compiled" else "")
                break
            except Exception as e:  # noqa: BLE001 - without compiling, then eagerly
                print("worker %d: teacher %s graph capture failed: %s: %s" % (args.group, attempt, type(e).__name__, e),
                      flush=True)
                tgraph.clear()
                torch.cuda.synchronize()
        print("worker %d: teachers' forward pass %s (%.1f s)" % (args.group, t_mode, time.time() - t1), flush=True)
    print("worker %d (%s): %s; set up in %.1f s" % (args.group, device, ", ".join(
        "%s %d params %s %.0f s" % (r.label(), r.params, r.mode, getattr(r, "capture_seconds", 0)) for r in runs),
        time.time() - t0), flush=True)
    if teacher is not None:
        ckpts = args.teacher_ckpt.split(",") if args.teacher_ckpt else []
        if args.wait_teachers:
            # the family writes this file when its teachers are trained (and chosen): their weights' paths
            t1 = time.time()
            while not os.path.exists(args.wait_teachers):
                if time.time() > args.hard_deadline or os.getppid() != parent:
                    raise SystemExit("worker %d: the teachers never came (%s)" % (args.group, args.wait_teachers))
                time.sleep(0.2)
            ckpts = json.load(open(args.wait_teachers))["teachers"]
            print("worker %d: waited %.1f s for the teachers" % (args.group, time.time() - t1), flush=True)
        if len(ckpts) != len(teacher):
            raise SystemExit("worker %d: %d teachers built, %d given" % (args.group, len(teacher), len(ckpts)))
        for tm, fn in zip(teacher, ckpts):
            tm.load_state_dict({k: v.float() for k, v in torch.load(fn).items()})     # in place: graphs stay valid
    if args.barrier > 1:
        with open(os.path.join(args.workdir, "barrier-%d" % args.group), "w") as f:
            f.write("ready")
        t1 = time.time()
        while len([fn for fn in os.listdir(args.workdir) if fn.startswith("barrier-")]) < args.barrier:
            if time.time() > args.hard_deadline or os.getppid() != parent:
                raise SystemExit("worker %d: the other workers never became ready" % args.group)
            time.sleep(0.1)
        print("worker %d: waited %.1f s for the other workers" % (args.group, time.time() - t1), flush=True)
    gc.collect()
    gc.freeze()
    # one batch stream per (seed, recipe): the variants of a family share their batches seed by seed
    keys = sorted({(r.seed, r.tag) for r in runs})
    gens = {k: torch.Generator().manual_seed(SEED + 7919 * k[0]) for k in keys}
    ar = torch.arange(CTX + 1, device=device)

    def rows(stream, n, g):
        """n windows of CTX+1 ids: half start at a document start (BOS first, as at inference), half anywhere."""
        toks, starts = stream
        n_tok = toks.numel()
        h = n // 2
        si = torch.randint(0, starts.numel(), (h,), generator=g)
        s1 = starts[si].clamp(max=n_tok - CTX - 2)
        s2 = torch.randint(0, n_tok - CTX - 2, (n - h,), generator=g)
        off = torch.cat([s1, s2]).to(device)
        return toks[off[:, None] + ar[None, :]]

    def batch_for(k, step, total):
        rec = recipes[k[1]]
        g = gens[k]
        nr = int(round(real_share(rec, step, total) * args.batch))
        synth = streams["samp+gen" if rec["gen"] and "gen" in streams else "samp"]
        parts = [rows(streams["real"], nr, g)] if nr else []
        if args.batch - nr:
            parts.append(rows(synth, args.batch - nr, g))
        b = torch.cat(parts) if len(parts) > 1 else parts[0]
        return b[:, :-1], b[:, 1:]

    def select(r, step):
        """--select-every: measure the current weights and each moving average on the evaluation text (the
        stories held out of train.txt: selection refuses to run on valid.txt) as they would be saved, and
        keep a copy of the best so far; training goes on from the weights as they were."""
        now = [p.detach().clone() for p in r.model.parameters()]
        row = {"step": step}
        for nm, ws in [("final", now)] + [("ema%g" % d, e) for d, e in r.emas]:
            with torch.no_grad():
                for p, w in zip(r.model.parameters(), ws):
                    p.copy_(w.to(torch.bfloat16).float())
            row[nm] = float(eval_nats(lambda x: r.model(x)[0], data["valid"], device).sum()) / (
                math.log(2) * data["valid_bytes"])
            if r.best is None or row[nm] < r.best["bits_per_byte"]:
                r.best = {"step": step, "weights": nm, "bits_per_byte": row[nm]}
                r.best_ws = [w.detach().clone() for w in ws]
        with torch.no_grad():
            for p, w in zip(r.model.parameters(), now):
                p.copy_(w)
        r.selection.append({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
        print("worker %d: [%s] step %d on %s: %s; best step %d %s %.5f" % (
            args.group, r.label(), step, data["eval_name"], " ".join(
                "%s %.5f" % (k, v) for k, v in row.items() if k != "step"),
            r.best["step"], r.best["weights"], r.best["bits_per_byte"]), flush=True)

    if args.select_every > 0:
        if data.get("eval_name", "valid.txt") == "valid.txt":
            raise SystemExit("worker: --select-every chooses weights on held-out stories; give family --holdout")
        for r in runs:
            r.best, r.best_ws, r.selection = None, None, []
    spent, lap_t = {}, [0.0]

    def lap(name):
        """--profile-steps: wait for the GPU and charge the time since the last lap to name."""
        if device == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        spent[name] = spent.get(name, 0.0) + now - lap_t[0]
        lap_t[0] = now

    steps = args.steps
    plan_file = os.path.join(args.workdir, "plan.json")
    t_train = time.time()
    t_probe = None
    stopped_early = False
    step = 0
    last_log = 0
    # a recipe may fix its own step count (explore: the same recipe trained longer); such a run stops there
    own = [r.rec.get("steps", 0) for r in runs if r.rec.get("steps", 0) > 0]
    base_steps = steps
    if steps > 0 and own:
        steps = max([steps] + own)
    while steps <= 0 or step < steps:
        if time.time() > args.hard_deadline:
            stopped_early = True
            print("worker %d: hard deadline at step %d, stopping" % (args.group, step), flush=True)
            break
        total = steps if steps > 0 else 10 ** 6
        prof = args.profile_steps > 0 and args.probe_to <= step < args.probe_to + args.profile_steps
        if prof:
            lap_t[0] = time.perf_counter()
        bs = {k: batch_for(k, step, steps) for k in keys}
        if prof:
            lap("batches")
        if teacher is not None:
            for k, buf in tbuf.items():
                if k in tgraph:
                    tin[k].copy_(bs[k][0])
                    tgraph[k].replay()
                else:
                    buf.copy_(teacher_logits(bs[k][0]))
            if prof:
                lap("teacher")
        for r in runs:
            t_r = r.rec.get("steps", 0) or (base_steps if base_steps > 0 else total)
            if step >= t_r or r.last_step is not None:
                if r.last_step is None:
                    r.last_step = step
                continue
            x, y = bs[(r.seed, r.tag)]
            r.x.copy_(x)
            r.y.copy_(y)
            r.step(lr_at(step, t_r, r.rec["lr"], r.rec["warmup"], r.rec["min_lr"]))
            if prof:
                lap(r.label())
        step += 1
        if prof and step == args.probe_to + args.profile_steps:
            tot = sum(spent.values())
            print("worker %d: profile of steps %d..%d (each phase waited for): %.1f ms per step: %s" % (
                args.group, args.probe_to, step - 1, 1000 * tot / args.profile_steps, ", ".join(
                    "%s %.1f" % (k, 1000 * v / args.profile_steps) for k, v in spent.items())), flush=True)
        if args.select_every > 0 and step % args.select_every == 0:
            for r in runs:
                if r.last_step is None:
                    select(r, step)
        if steps <= 0 and step == args.probe_from:
            if device == "cuda":
                torch.cuda.synchronize()
            t_probe = time.time()
        if steps <= 0 and step == args.probe_to:
            if device == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - t_probe) / (args.probe_to - args.probe_from)
            tmp = os.path.join(args.workdir, "tmp-speed-%d.json" % args.group)
            with open(tmp, "w") as f:
                json.dump({"per_step": per_step, "at": time.time(), "step": step}, f)
            os.replace(tmp, os.path.join(args.workdir, "speed-%d.json" % args.group))
            waited = time.time()
            while not args.solo and not os.path.exists(plan_file) and time.time() - waited < 90:
                time.sleep(0.05)
            if os.path.exists(plan_file) and not args.solo:
                steps = json.load(open(plan_file))["steps"]
            else:   # no plan: decide alone
                steps = step + int(0.9 * (args.train_deadline - time.time()) / per_step)
                if args.max_steps > 0:
                    steps = min(steps, args.max_steps)
            steps = max(steps, step + 1)
            print("worker %d: %.1f ms per step here -> %d steps" % (args.group, 1000 * per_step, steps), flush=True)
        if step - last_log >= args.log_every or step == steps:
            n = step - last_log
            last_log = step
            el = time.time() - t_train
            for r in runs:
                if r.last_step is not None and r.last_step < step - n:
                    continue
                tl = float(r.loss_sum) / n
                r.loss_sum.zero_()
                r.log.append({"step": step, "train_loss": round(tl, 4), "seconds": round(el, 1)})
            print("worker %d: step %5d  %6.1f s  %s" % (args.group, step, el, "  ".join(
                "%s %.3f" % (r.label(), r.log[-1]["train_loss"]) for r in runs)), flush=True)
    seconds = time.time() - t_train
    if args.select_every > 0:
        for r in runs:
            last = r.last_step if r.last_step is not None else step
            if not r.selection or r.selection[-1]["step"] != last:
                select(r, last)
    print("worker %d: %d steps of %dx%d tokens in %.1f s, peak GPU memory %.1f GB" % (
        args.group, step, args.batch, CTX, seconds,
        torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else 0.0), flush=True)
    # save and evaluate each run: bf16 weights, evaluated in float32 as the C engine runs them
    if device == "cuda":
        torch.cuda.synchronize()
    for r in runs:
        r.graph = None
    if device == "cuda":
        torch.cuda.empty_cache()
    valid, vunit = data["valid"], data["valid_unit"]
    n_units = len(data["unit_bytes"])
    teacher = None
    tbuf.clear()
    for r in runs:
        t1 = time.time()
        r.model.eval()
        # the weights measured: the last step's, and each moving average; `keep` names the one saved
        sets = [("final", None)] + [("ema%g" % d, e) for d, e in r.emas]
        keep = r.rec.get("keep", "final")
        if args.select_every > 0:
            # the weights chosen on the held-out stories
            sets, keep = [("selected", r.best_ws)], "selected"
        if not args.eval_all:
            sets = [x for x in sets if x[0] == keep]
        last = [p.detach().clone() for p in r.model.parameters()]
        evals, kept = {}, None
        for nm, ws in sets:
            with torch.no_grad():
                for p, w in zip(r.model.parameters(), ws if ws is not None else last):
                    p.copy_(w.to(torch.bfloat16).float())     # evaluated as saved: bf16 weights, float32 compute
            nats = eval_nats(lambda x: r.model(x)[0], valid, device).cpu()
            evals[nm] = float(nats.sum()) / (math.log(2) * data["valid_bytes"])
            if nm == keep:
                kept = nats
                out_dir = os.path.join(args.workdir, "ckpt", r.key())
                if r.name == "teacher":
                    os.makedirs(os.path.dirname(args.save_teacher) or ".", exist_ok=True)
                    torch.save({k: v.detach().to("cpu", torch.bfloat16) for k, v in r.model.state_dict().items()},
                               args.save_teacher)
                else:
                    save_checkpoint(r.model, out_dir, args.tokenizer)
        nats = kept
        unit_nats = torch.zeros(n_units, dtype=torch.float64).index_add_(0, vunit, nats)
        tot = float(nats.sum())
        res = {"name": r.name, "seed": r.seed, "params": r.params, "kv_bytes_per_token": kv_bytes_per_token(r.v),
               "steps": r.last_step if r.last_step is not None else step, "planned_steps": steps, "stopped_early": stopped_early, "batch": args.batch,
               "seq_len": CTX, "train_seconds": round(seconds, 1), "lr": r.rec["lr"], "warmup": r.rec["warmup"],
               "tag": r.tag, "recipe": r.rec, "eval_text": data.get("eval_name", "valid.txt"),
               "evals": {k: round(v, 5) for k, v in evals.items()}, "kept": keep,
               "selected": ({k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.best.items()}
                            if args.select_every > 0 else None),
               "selection": r.selection if args.select_every > 0 else None,
               "mode": r.mode, "worker": args.group, "runs_in_worker": len(runs), "log": r.log,
               "eval_tokens": int(nats.numel()), "eval_bytes": int(data["valid_bytes"]),
               "nats": tot, "loss": tot / nats.numel(), "bits_per_byte": tot / (math.log(2) * data["valid_bytes"]),
               "unit_nats": [round(float(u), 4) for u in unit_nats],
               "checkpoint": os.path.join(args.workdir, "ckpt", r.key())}
        with open(os.path.join(args.workdir, "result-%s.json" % r.key()), "w") as f:
            json.dump(res, f)
        print("[%s] %s %.4f bits/byte (%s), loss %.4f (%d tokens), eval %.1f s" % (
            r.label(), res["eval_text"], res["bits_per_byte"], ", ".join("%s %.4f" % kv for kv in evals.items()),
            res["loss"], res["eval_tokens"], time.time() - t1), flush=True)
        r.model = None
        r.opt = None
        r.emas = []
        r.best_ws = None
        if device == "cuda":
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------
# the whole family in one command
# --------------------------------------------------------------------------

def family(args):
    t_start = time.time()
    deadline = t_start + args.budget
    train_deadline = deadline - args.reserve
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.workdir, exist_ok=True)
    for fn in os.listdir(args.workdir):
        if fn.startswith(("speed-", "result-", "plan", "tmp-", "barrier-")):
            os.remove(os.path.join(args.workdir, fn))
    if (args.teacher_select > 0 or args.keep_teachers > 0 or args.student_select > 0) and args.holdout <= 0:
        raise SystemExit("family: --teacher-select, --keep-teachers and --student-select choose on held-out stories: "
                         "give --holdout")
    cache = os.path.join(args.workdir, "family-data.pt")
    import torch
    n_gpu = torch.cuda.device_count()
    gen_paths = []
    if args.gen_files:
        # samples drawn by an earlier stage (--teachers-only), so that teachers and students read the same text
        gen_paths = args.gen_files.split(",")
        for fn in gen_paths:
            if not os.path.exists(fn):
                raise SystemExit("family: --gen-files: %s not found" % fn)
    elif args.gen_stories > 0:
        # fresh stories260K samples, one generating process per GPU (--gen-procs: that many, spread over the
        # GPUs; each process draws its share with seed gen_seed + i, so the samples depend on the process count)
        gp = []
        k = args.gen_procs if args.gen_procs > 0 else max(1, n_gpu)
        for i in range(k):
            fn = os.path.join(args.workdir, "gen-%d.txt.gz" % i)
            env = dict(os.environ)
            if n_gpu:
                env["CUDA_VISIBLE_DEVICES"] = str(i % n_gpu)
            if n_gpu and i >= n_gpu:
                gp[i - n_gpu].wait()    # one generating process per GPU at a time: two do not fit in its memory
            gp.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "generate", "--teacher", args.teacher,
                                        "--teacher-tokenizer", args.teacher_tokenizer, "--n", str(args.gen_stories // k),
                                        "--seed", str(args.gen_seed + i), "--out", fn], env=env))
            gen_paths.append(fn)
        for p_ in gp:
            p_.wait()
        if any(p_.returncode != 0 for p_ in gp):
            # never train on other data than asked: a family without its samples is another family
            raise SystemExit("family: generate failed (--gen-stories %d in %d processes)" % (args.gen_stories, k))
    prepare(args.data, args.tokenizer, cache, gen_paths, args.holdout)
    base = dict(RECIPE, **json.loads(args.recipe))
    if args.recipes:
        recipes = {t: dict(base, **o) for t, o in json.loads(args.recipes).items()}
    else:
        recipes = {"main": base}
    explore = len(recipes) > 1 or "main" not in recipes
    names = args.variants.split(",") if args.variants else [v["name"] for v in VARIANTS]
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [(n, s, t) for n in names for s in seeds for t in recipes]
    kd_tags = {t for t, r in recipes.items() if r.get("kd", 0) > 0 or r.get("kd_real", 0) > 0}
    teacher_rec = dict(dict(base, **TEACHER_RECIPE), **json.loads(args.teacher_recipe))
    all_recipes = dict(recipes, teach=teacher_rec)
    common = ["--cache", cache, "--tokenizer", args.tokenizer, "--workdir", args.workdir,
              "--batch", str(args.batch), "--recipes", json.dumps(all_recipes),
              "--probe-from", str(args.probe_from), "--probe-to", str(args.probe_to), "--log-every", str(args.log_every),
              "--profile-steps", str(args.profile_steps)]
    if args.no_graph:
        common.append("--no-graph")
    if args.compile:
        common.append("--compile")
    if explore:
        common.append("--eval-all")
    procs, gid = [], [0]

    def launch(grp, gpu, extra):
        env = dict(os.environ)
        if n_gpu:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        i = gid[0]
        gid[0] += 1
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", "--group", str(i),
                                       "--runs", ",".join("%s:%d:%s" % r for r in grp)] + common + extra, env=env))
        return i
    tseeds = list(range(args.teacher_seed0, args.teacher_seed0 + max(1, args.teachers)))
    teacher_ckpts = [os.path.join(args.workdir, "teacher-s%d.pt" % s) for s in tseeds]
    given = args.teacher_ckpts.split(",") if args.teacher_ckpts else []
    # --add-teacher-ckpts: teachers trained by an earlier call, joined to the ones trained in this call
    added = args.add_teacher_ckpts.split(",") if args.add_teacher_ckpts else []
    if added and (given or args.teachers_only):
        raise SystemExit("family: --add-teacher-ckpts joins the teachers trained in this call: "
                         "not with --teacher-ckpts or --teachers-only")
    for fn in added + [os.path.join(os.path.dirname(added[0]), "teachers.json")] if added else []:
        if not os.path.exists(fn):
            raise SystemExit("family: --add-teacher-ckpts: %s not found" % fn)
    tprocs = []
    plain = [r for r in runs if r[2] not in kd_tags]
    kd_runs = [r for r in runs if r[2] in kd_tags]
    if args.teachers_only:
        plain, kd_runs, runs = [], [], []
    if given:
        # teachers trained by an earlier stage: their weights and their results (teachers.json beside them)
        teacher_ckpts = given
        for fn in given:
            if not os.path.exists(fn):
                raise SystemExit("family: --teacher-ckpts: %s not found" % fn)
    elif kd_runs or args.teachers_only:
        # first the teachers, one per GPU (seed s on GPU s mod n) for --teacher-seconds; runs without
        # distillation use the other GPUs
        for fn in teacher_ckpts:
            if os.path.exists(fn):
                os.remove(fn)
        t_end = time.time() + args.teacher_seconds
        for s_, fn in zip(tseeds, teacher_ckpts):
            launch([("teacher", s_, "teach")], s_ % max(1, n_gpu),
                   ["--steps", "0", "--solo", "--max-steps", str(args.teacher_max_steps),
                    "--save-teacher", fn, "--select-every", str(args.teacher_select),
                    "--train-deadline", str(t_end), "--hard-deadline", str(t_end + 20)])
            tprocs.append(procs[-1])
        print("family: %d teacher(s) %s until +%.0f s" % (len(tseeds), json.dumps(teacher_rec, sort_keys=True),
                                                       t_end - t_start), flush=True)
    if plain and kd_runs and args.steps <= 0:
        raise SystemExit("family: recipes with and without distillation in one run need a fixed --steps")
    timing = ["--steps", str(args.steps), "--train-deadline", str(train_deadline),
              "--hard-deadline", str(deadline - args.reserve + 35)]
    if args.student_select > 0:
        timing += ["--select-every", str(args.student_select)]
    planned = []
    ready = os.path.join(args.workdir, "teachers-ready.json")
    if os.path.exists(ready):
        os.remove(ready)
    early = bool(kd_runs and tprocs)
    if early:
        # the students' workers start now: they build, compile and capture their steps while the teachers
        # train, then wait for `ready` (the teachers kept) before their first step
        n_keep = args.keep_teachers if 0 < args.keep_teachers < len(teacher_ckpts) else len(teacher_ckpts)
        n_keep += len(added)
        for j, grp in enumerate(balance_by_key(kd_runs, args.workers_per_gpu * max(1, n_gpu))):
            planned.append(launch(grp, j % max(1, n_gpu), timing + ["--wait-teachers", ready,
                                                                   "--wait-teachers-n", str(n_keep)]))
    if plain:
        gpus = list(range(len(tprocs), n_gpu)) if (tprocs and n_gpu > len(tprocs)) else list(range(max(1, n_gpu)))
        for j, grp in enumerate(balance(plain, args.workers_per_gpu * len(gpus))):
            planned.append(launch(grp, gpus[j % len(gpus)], timing))
    for p_ in tprocs:
        p_.wait()
    if tprocs:
        missing = [fn for fn in teacher_ckpts if not os.path.exists(fn)]
        if missing:
            for i in planned:
                procs[i].kill()
            raise SystemExit("family: a teacher did not finish (%s)" % ", ".join(missing))
        print("family: teachers done at +%.0f s" % (time.time() - t_start), flush=True)
        trows = [json.load(open(os.path.join(args.workdir, "result-teacher-s%d-teach.json" % s))) for s in tseeds]
        for r, fn in zip(trows, teacher_ckpts):
            r.pop("unit_nats", None)
            r["file"] = os.path.basename(fn)
        # --keep-teachers K: the K teachers best on the evaluation text (held-out stories with --holdout)
        order = sorted(range(len(trows)), key=lambda i: trows[i]["bits_per_byte"])
        kept = sorted(order[:args.keep_teachers] if 0 < args.keep_teachers < len(trows) else order)
        for i, r in enumerate(trows):
            r["kept"] = i in kept
        teacher_ckpts = [teacher_ckpts[i] for i in kept]
        if added:
            # their rows from the teachers.json beside them, marked as trained earlier
            arows = [r for r in json.load(open(os.path.join(os.path.dirname(added[0]), "teachers.json")))
                     if r.get("kept", True)]
            if len(arows) != len(added):
                raise SystemExit("family: --add-teacher-ckpts: %d files, %d kept teachers in the teachers.json "
                                 "beside them" % (len(added), len(arows)))
            for r, fn in zip(arows, added):
                r.pop("unit_nats", None)
                r["file"], r["kept"], r["earlier_call"] = os.path.basename(fn), True, True
            trows += arows
            teacher_ckpts = teacher_ckpts + added
        if args.holdout > 0:
            report_teachers_on_valid(args, trows, teacher_ckpts)
        with open(os.path.join(args.workdir, "teachers.json"), "w") as f:
            json.dump(trows, f)
        print("family: teachers kept: %s" % ", ".join(os.path.basename(fn) for fn in teacher_ckpts), flush=True)
        with open(ready + ".tmp", "w") as f:
            json.dump({"teachers": teacher_ckpts}, f)
        os.replace(ready + ".tmp", ready)
    if args.teachers_only:
        # the first stage of a two-stage run: teachers, their results and the samples go to --out
        for fn in teacher_ckpts + gen_paths + [os.path.join(args.workdir, "teachers.json")]:
            shutil.copy(fn, os.path.join(args.out, os.path.basename(fn)))
        print("family: teachers and samples in %s after %.1f s" % (args.out, time.time() - t_start), flush=True)
        return 0
    if kd_runs and not early:
        # the workers start their first step together (--barrier), so that the speed each measures for the
        # plan is the speed with all of them running, not that of one alone while the others still compile
        groups_ = balance_by_key(kd_runs, args.workers_per_gpu * max(1, n_gpu))
        for j, grp in enumerate(groups_):
            planned.append(launch(grp, j % max(1, n_gpu), timing + ["--teacher-ckpt", ",".join(teacher_ckpts),
                                                                   "--barrier", str(len(groups_))]))
    print("family: %d runs on %d GPU(s) in %d workers; training until +%.0f s" % (
        len(runs), n_gpu, len(planned), train_deadline - t_start), flush=True)
    # one step count for every run: from the slowest worker's measured speed, all running at once
    if args.steps <= 0:
        plan_by = time.time() + 300
        speeds = {}
        while time.time() < plan_by:
            for i in planned:
                fn = os.path.join(args.workdir, "speed-%d.json" % i)
                if i not in speeds and os.path.exists(fn):
                    speeds[i] = json.load(open(fn))
            alive = [i for i in planned if procs[i].poll() is None]
            if speeds and all(i in speeds for i in alive):
                break
            time.sleep(0.1)
        if speeds:
            steps = min(sp["step"] + int(0.95 * (train_deadline - sp["at"]) / sp["per_step"]) for sp in speeds.values())
            if args.max_steps > 0:
                steps = min(steps, args.max_steps)
            with open(os.path.join(args.workdir, "plan-tmp.json"), "w") as f:
                json.dump({"steps": steps, "speeds": speeds}, f)
            os.replace(os.path.join(args.workdir, "plan-tmp.json"), os.path.join(args.workdir, "plan.json"))
            print("family: plan %d steps (%s ms per step per worker)" % (steps, ", ".join(
                "%.0f" % (1000 * speeds[i]["per_step"]) for i in sorted(speeds))), flush=True)
    for p in procs:
        try:
            # 55 s are kept for bundling and the references, but never at the cost of the runs' evaluation
            # (about 20 s after the training deadline): with a small --reserve they were stopped mid-way
            p.wait(timeout=max(1.0, max(deadline - 55, train_deadline + 20) - time.time()))
        except subprocess.TimeoutExpired:
            print("family: a worker is still running at the deadline; stopping it", flush=True)
            p.kill()
    rows = []
    for n, s, t in runs:
        fn = os.path.join(args.workdir, "result-%s-s%d%s.json" % (n, s, "" if t == "main" else "-" + t))
        if os.path.exists(fn):
            rows.append(json.load(open(fn)))
        else:
            print("family: no result for %s seed %d recipe %s" % (n, s, t), flush=True)
    data = torch.load(cache)
    data_note = {"stories": data["stories"], "tokens": {k: int(v[0].numel()) for k, v in data["streams"].items()},
                 "generated": {"stories": args.gen_stories, "seed": args.gen_seed,
                               "processes": args.gen_procs if args.gen_procs > 0 else max(1, n_gpu)} if args.gen_stories > 0 else None}
    if explore:
        for r in rows:
            r.pop("unit_nats", None)
        with open(os.path.join(args.out, "explore.json"), "w") as f:
            json.dump({"recipes": all_recipes, "data": data_note, "rows": rows,
                       "eval_text": data.get("eval_name", "valid.txt"),
                       "hardware": "%d x %s" % (n_gpu, torch.cuda.get_device_name(0) if n_gpu else "CPU"),
                       "wall_seconds": round(time.time() - t_start, 1)}, f, indent=1)
        print("\nevaluated on %s" % data.get("eval_name", "valid.txt"))
        print("%-8s %-10s %-7s %-8s %s" % ("variant", "recipe", "steps", "bpb", "weights"))
        for r in sorted(rows, key=lambda r: r["bits_per_byte"]):
            print("%-8s %-10s %-7d %.4f  %s" % (r["name"], r["tag"], r["steps"], r["bits_per_byte"],
                                               " ".join("%s %.4f" % kv for kv in sorted(r["evals"].items()))))
        print("family: explore done in %.1f s" % (time.time() - t_start), flush=True)
        return 0
    units = {"bytes": data["unit_bytes"]}
    # bundle one seed of the main variants; story-mla takes the MLA latent with the best mean
    means = {}
    for r in rows:
        means.setdefault(r["name"], []).append(r["bits_per_byte"])
    mla = [n for n in means if VBYNAME[n]["arch"] == "mla"]
    best_mla = min(mla, key=lambda n: sum(means[n]) / len(means[n])) if mla else None
    bundles = {}
    for d, n in BUNDLE.items():
        n = best_mla if n == "@best-mla" else n
        if n is None or (d == "story-mla64" and n == best_mla):
            continue
        if any(r["name"] == n and r["seed"] == BUNDLE_SEED for r in rows):
            bundles[d] = n
    bdir = os.path.join(args.workdir, "bundle")
    shutil.rmtree(bdir, ignore_errors=True)
    fprocs = []
    for d, n in bundles.items():
        r = next(r for r in rows if r["name"] == n and r["seed"] == BUNDLE_SEED)
        shutil.copytree(r["checkpoint"], os.path.join(bdir, d))
        rp = os.path.join(args.workdir, "result-%s-s%d.json" % (n, BUNDLE_SEED))
        fprocs.append((d, subprocess.Popen([sys.executable, os.path.abspath(__file__), "finalize", "--dir",
                                            os.path.join(bdir, d), "--cache", cache, "--result", rp,
                                            "--data", args.data])))
    for d, p in fprocs:
        try:
            p.wait(timeout=max(1.0, deadline - 15 - time.time()))
        except subprocess.TimeoutExpired:
            print("family: finalize of %s ran out of time" % d, flush=True)
            p.kill()
    hf = {}
    for d in bundles:
        fn = os.path.join(bdir, d, "reference.json")
        if os.path.exists(fn):
            hf[d] = json.load(open(fn)).get("valid", {})
    tinfo = os.path.join(os.path.dirname(teacher_ckpts[0]), "teachers.json") if kd_runs else ""
    if tinfo and os.path.exists(tinfo):
        tr = json.load(open(tinfo))
        note = []
        for r in tr:
            n_ = {"seed": r["seed"], "params": r["params"], "steps": r["steps"], "train_seconds": r["train_seconds"],
                  "bits_per_byte": round(r["bits_per_byte"], 5), "eval_text": r["eval_text"],
                  "used": r.get("kept", True)}
            for k in ("selected", "valid_bits_per_byte", "earlier_call"):
                if r.get(k) is not None:
                    n_[k] = r[k]
            note.append(n_)
        data_note["teacher"] = {"variant": TEACHER, "recipe": tr[0]["recipe"], "teachers": note,
                                "target": "the teacher's next-token distribution" if len(teacher_ckpts) == 1 else
                                          "the mean of the %d teachers' next-token probabilities" % len(teacher_ckpts)}
        if tr[0].get("ensemble_valid_bits_per_byte") is not None:
            data_note["teacher"]["target_valid_bits_per_byte"] = tr[0]["ensemble_valid_bits_per_byte"]
    doc = {"units": units, "bundles": bundles, "transformers_check": hf, "data": data_note, "recipe": base,
           "hardware": "%d x %s" % (n_gpu, torch.cuda.get_device_name(0) if n_gpu else "CPU"),
           "torch": torch.__version__, "wall_seconds": round(time.time() - t_start, 1), "runs": rows}
    with open(os.path.join(args.out, "runs.json"), "w") as f:
        json.dump(doc, f)
    fam = assemble_family(doc)
    with open(os.path.join(args.out, "family.json"), "w") as f:
        json.dump(fam, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # the bundled checkpoints, in tar files of at most 15.5 MiB
    packs, cur, size = [], [], 0
    for d in sorted(bundles):
        p = os.path.join(bdir, d)
        s = sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
        if cur and size + s > 15.5 * 2 ** 20:
            packs.append(cur)
            cur, size = [], 0
        cur.append(d)
        size += s
    if cur:
        packs.append(cur)
    for i, pk in enumerate(packs):
        with tarfile.open(os.path.join(args.out, "bundle-%d.tar" % (i + 1)), "w") as t:
            for d in pk:
                t.add(os.path.join(bdir, d), arcname=d)
    print_table(fam)
    print("family: done in %.1f s" % (time.time() - t_start), flush=True)
    return 0


def report_teachers_on_valid(args, trows, kept_ckpts):
    """Teachers chosen on held-out stories: measure each, and the mean distribution of the kept ones, on
    valid.txt for the record (after every choice is made; nothing reads these numbers to choose)."""
    lib = nn_lib()
    torch = lib["torch"]
    from tokenizers import Tokenizer
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = Tokenizer.from_file(args.tokenizer)
    text = open(os.path.join(args.data, "valid.txt"), encoding="utf-8").read()
    vids, vbytes = text_ids(tok, text)
    ids = torch.tensor([tok.token_to_id(SPECIAL)] + vids, dtype=torch.int64)
    models = {}
    for r in trows:
        m = lib["Fam"](TEACHER).to(device)
        fn = os.path.join(args.workdir, r["file"])
        m.load_state_dict({k: v.float() for k, v in torch.load(fn).items()})
        models[fn] = m.eval()
        nats = eval_nats(lambda x: m(x)[0], ids, device)
        r["valid_bits_per_byte"] = round(float(nats.sum()) / (math.log(2) * vbytes), 5)
    ms = [models[fn] for fn in kept_ckpts]

    def mean_dist(x):
        lp = torch.stack([torch.log_softmax(m(x)[0].float(), -1) for m in ms])
        return torch.logsumexp(lp, 0) - math.log(len(ms))
    ens = round(float(eval_nats(mean_dist, ids, device).sum()) / (math.log(2) * vbytes), 5)
    for r in trows:
        r["ensemble_valid_bits_per_byte"] = ens
    print("family: teachers on valid.txt (reported, not used to choose): %s; mean distribution of the kept: %.5f" % (
        ", ".join("s%d %.5f%s" % (r["seed"], r["valid_bits_per_byte"], " (kept)" if r["kept"] else "") for r in trows),
        ens), flush=True)
    del models, ms
    if device == "cuda":
        torch.cuda.empty_cache()


def finalize(args):
    """Reload one bundled checkpoint with transformers and write its reference.json."""
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    d = args.dir
    res = json.load(open(args.result))
    data = torch.load(args.cache)
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    bos = tok.token_to_id(SPECIAL)
    v = VBYNAME[res["name"]]
    vbytes = int(data["valid_bytes"])
    # all of valid.txt with transformers (GPU, float32, eager attention), the C engine's windows
    torch.backends.cuda.matmul.allow_tf32 = False
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").cuda().eval()
    nats = eval_nats(lambda x: m(input_ids=x).logits, data["valid"], "cuda", batch=16).cpu()
    hf_bpb = float(nats.sum()) / (math.log(2) * vbytes)
    del m
    torch.cuda.empty_cache()
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    n_params = sum(p.numel() for p in model.parameters())

    def text_loss(text):
        ids = torch.tensor([bos] + tok.encode(text, add_special_tokens=False).ids)
        n = eval_nats(lambda x: model(input_ids=x).logits, ids, "cpu", batch=4)
        return ids.numel() - 1, float(n.sum())
    ev_text = open(EVAL_TXT, encoding="utf-8").read()
    ev_n, ev_nats = text_loss(ev_text)
    vb = open(os.path.join(args.data, "valid.txt"), "rb").read()
    cut = vb.find(b"\n\n", VALID_PREFIX_BYTES) + 2
    pre_n, pre_nats = text_loss(vb[:cut].decode("utf-8"))
    prompt = "Once upon a time"
    p_ids = [bos] + tok.encode(prompt, add_special_tokens=False).ids
    x = torch.tensor([p_ids])
    gc = model.generation_config
    gc.eos_token_id = None
    gc.pad_token_id = bos
    with torch.no_grad():
        g_out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=48,
                               do_sample=False, num_beams=1, use_cache=True)
        greedy = g_out[0, len(p_ids):].tolist()
        full = torch.tensor([p_ids + greedy])
        lg = model(input_ids=full).logits[0, len(p_ids) - 1:-1].float()
        top2 = torch.topk(lg, 2, dim=-1).values
        min_gap = float((top2[:, 0] - top2[:, 1]).min())
        recomputed = lg.argmax(-1).tolist()
    gc.eos_token_id = bos
    torch.manual_seed(SEED)
    with torch.no_grad():
        try:
            s_out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=300,
                                   do_sample=True, temperature=0.8, top_k=0, top_p=1.0, num_beams=1, use_cache=True)
            s_note = "temperature 0.8, no top-k/top-p"
        except Exception as e:  # noqa: BLE001
            print("[%s] sampling with top_k=0 failed (%s); using the defaults" % (d, e), flush=True)
            torch.manual_seed(SEED)
            s_out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=300,
                                   do_sample=True, temperature=0.8, num_beams=1, use_cache=True)
            s_note = "temperature 0.8, generation defaults for top-k/top-p"
    s_ids = s_out[0, len(p_ids):].tolist()
    if bos in s_ids:
        s_ids = s_ids[:s_ids.index(bos)]
    ref = {
        "prompt": prompt, "prompt_ids": p_ids, "greedy_ids": greedy,
        "greedy_text": tok.decode(greedy, skip_special_tokens=False),
        "greedy_note": "model.generate(do_sample=False, use_cache=True), 48 new tokens, not stopped at EOS; "
                       "float32 from the bf16 weights, eager attention, CPU",
        "greedy_min_top2_gap": round(min_gap, 6),
        "greedy_matches_full_recompute": recomputed == greedy,
        "sample_text": prompt + tok.decode(s_ids, skip_special_tokens=False),
        "sample_note": s_note + ", torch seed %d, stopped at EOS" % SEED,
        "eval": {"file": "assets/models/eval.txt", "tokens": ev_n, "loss": round(ev_nats / ev_n, 6)},
        "valid": {"file": "../shared/data/tinystories/valid.txt", "tokens": int(nats.numel()), "bytes": vbytes,
                  "loss": round(float(nats.sum()) / nats.numel(), 6), "bits_per_byte": round(hf_bpb, 6),
                  "bits_per_byte_training_script": round(res["bits_per_byte"], 6),
                  "note": "transformers, float32 from the bf16 weights, llmscope eval's windows"},
        "valid_prefix": {"file": "../shared/data/tinystories/valid.txt", "bytes": cut, "tokens": pre_n,
                         "loss": round(pre_nats / pre_n, 6),
                         "bits_per_byte": round(pre_nats / (math.log(2) * cut), 6),
                         "note": "the first %d bytes of valid.txt (up to a blank line), for a fast check in make test" % cut},
        "family": {"variant": res["name"], "seed": res["seed"]},
        "params": n_params,
        "kv_cache": {"elements_per_token_per_layer": kv_elems(v), "layers": N_LAYERS,
                     "bytes_per_token_bf16": kv_bytes_per_token(v)},
        "train": {"steps": res["steps"], "batch": res["batch"], "seq_len": CTX, "seconds": res["train_seconds"],
                  "lr": res["lr"], "warmup": res["warmup"], "seed": res["seed"], "stopped_early": res["stopped_early"],
                  "checkpoint": "final step" if res.get("kept", "final") == "final" else
                  "moving average of the weights (decay %s) at the final step" % res["kept"][3:]},
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("[%s] transformers: valid %.4f bits/byte (script %.4f), eval.txt loss %.4f, params %d; greedy: %s" % (
        os.path.basename(d), hf_bpb, res["bits_per_byte"], ev_nats / ev_n, n_params,
        ref["greedy_text"].replace("\n", "\\n")), flush=True)
    return 0


# --------------------------------------------------------------------------
# family.json (standard library only)
# --------------------------------------------------------------------------

T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622}
BOOTSTRAP = 2000


def merge_runs(docs, names):
    """One runs.json from several calls that trained other seeds of one family (a GPU too small for all the
    seeds in one call): the same valid.txt units, recipe, data and step count, no run twice."""
    if len(docs) == 1:
        return docs[0]
    first = docs[0]
    seen = {}
    for d, fn in zip(docs, names):
        for key in ("units", "recipe", "data"):
            if d.get(key) != first.get(key):
                raise SystemExit("assemble: %s: its %s differ from %s's" % (fn, key, names[0]))
        for r in d["runs"]:
            for key in ("steps", "batch", "seq_len", "lr", "warmup", "eval_tokens", "eval_bytes"):
                if r.get(key) != first["runs"][0].get(key):
                    raise SystemExit("assemble: %s: run %s seed %d has %s %s, not %s" % (
                        fn, r["name"], r["seed"], key, r.get(key), first["runs"][0].get(key)))
            k = (r["name"], r["seed"], r.get("tag", "main"))
            if k in seen:
                raise SystemExit("assemble: run %s seed %d is in both %s and %s" % (r["name"], r["seed"], seen[k], fn))
            seen[k] = fn
    out = dict(first)
    out["runs"] = [r for d in docs for r in d["runs"]]
    out["bundles"], out["transformers_check"] = {}, {}
    for d in docs:
        out["bundles"].update(d.get("bundles", {}))
        out["transformers_check"].update(d.get("transformers_check", {}))
    out["hardware"] = " + ".join(str(d.get("hardware")) for d in docs)
    out["wall_seconds"] = round(sum(d.get("wall_seconds") or 0 for d in docs), 1)
    out["calls"] = len(docs)
    return out


def assemble_family(doc):
    rows = doc["runs"]
    ub = doc["units"]["bytes"]
    U = len(ub)
    by = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    names = [v["name"] for v in VARIANTS if v["name"] in by]
    rng = random.Random(SEED)
    draws = [[rng.randrange(U) for _ in range(U)] for _ in range(BOOTSTRAP)]
    draw_bytes = [sum(ub[i] for i in d) for d in draws]
    ln2 = math.log(2)
    boot = {}
    for n in names:
        rs = by[n]
        un = [sum(r["unit_nats"][i] for r in rs) / len(rs) for i in range(U)]
        boot[n] = [sum(un[i] for i in d) / (ln2 * b) for d, b in zip(draws, draw_bytes)]

    def pct(xs, q):
        s = sorted(xs)
        k = (len(s) - 1) * q
        lo = int(math.floor(k))
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (k - lo)

    def tint(xs):
        m = sum(xs) / len(xs)
        if len(xs) < 2:
            return m, [m, m]
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
        h = T975.get(len(xs) - 1, 1.96) * sd / math.sqrt(len(xs))
        return m, [m - h, m + h]

    r0 = rows[0] if rows else {}
    bundled = {n: d for d, n in doc["bundles"].items()}
    out = {
        "eval": {"text": "../shared/data/tinystories/valid.txt", "tokens": r0.get("eval_tokens"),
                 "bytes": r0.get("eval_bytes"),
                 "protocol": "as `llmscope eval`: ids = [BOS] + the whole file's tokens; windows of %d ids overlapping "
                             "by one, so every token after BOS is scored once; bits/byte = nats / (ln 2 * bytes)" % CTX},
        "evaluated_by": "every run on the GPU by the training script (its PyTorch modules in float32 from the bf16 "
                        "weights, the C engine's windows); bundled runs also by transformers "
                        "(reference.json, valid.bits_per_byte) and by the C engine (make test: a prefix of valid.txt; "
                        "docs/models.md: the whole file)",
        "intervals": {"ci95": "95% t-interval of the mean over the seeds (t quantile for n-1 degrees of freedom); "
                              "seeds change the initialisation and the order of the batches",
                      "ci95_stories": "95%% percentile bootstrap over %d units of valid.txt (%d resamples) of the "
                                      "bits/byte of the per-unit nats averaged over the seeds; a unit is a story, or "
                                      "a few where a story does not open with \"Once upon a time\" (spans over 3,000 bytes "
                                      "cut at blank lines into blocks of about 1,500 bytes)" % (U, BOOTSTRAP),
                      "delta_vs_mha": "bits/byte minus MHA's: mean over seeds with a paired t-interval (same seed = "
                                      "same batches) and a paired bootstrap over the same units"},
        "training": {},
        "variants": [],
    }
    if r0:
        out["training"] = {"steps": r0["steps"], "batch": r0["batch"], "seq_len": r0["seq_len"],
                           "tokens_per_run": r0["steps"] * r0["batch"] * r0["seq_len"], "lr": r0["lr"],
                           "warmup": r0["warmup"], "seeds": sorted({r["seed"] for r in rows}),
                           "hardware": doc.get("hardware"), "wall_seconds": doc.get("wall_seconds"),
                           "checkpoint": ("the last step of every run (no selection on validation data)"
                                          if doc.get("recipe", {}).get("keep", "final") == "final" else
                                          "the moving average of the weights (decay %s) at the last step of every run "
                                          "(no selection on validation data)" % doc["recipe"]["keep"][3:]),
                           "stopped_early": any(r["stopped_early"] for r in rows)}
        if doc.get("recipe"):
            out["training"]["recipe"] = doc["recipe"]
        if doc.get("data"):
            out["training"]["data"] = doc["data"]
    mha = by.get("mha")
    for n in names:
        v = VBYNAME[n]
        rs = sorted(by[n], key=lambda r: r["seed"])
        m, ci = tint([r["bits_per_byte"] for r in rs])
        e = {"name": n, "label": v["label"], "label_zh": v["label_zh"], "attention": v["attention"],
             "kv_heads": v.get("kv_heads", N_HEADS) if v["arch"] != "mla" else N_HEADS,
             "kv_latent": v.get("kv_latent"), "ffn": v["ffn"], "arch": v["arch"], "params": rs[0]["params"],
             "kv_bytes_per_token": rs[0]["kv_bytes_per_token"],
             "seeds": [{"seed": r["seed"], "bits_per_byte": round(r["bits_per_byte"], 5), "loss": round(r["loss"], 5)}
                       for r in rs],
             "bits_per_byte_mean": round(m, 5), "ci95": [round(ci[0], 5), round(ci[1], 5)],
             "ci95_stories": [round(pct(boot[n], 0.025), 5), round(pct(boot[n], 0.975), 5)],
             "loss_mean": round(sum(r["loss"] for r in rs) / len(rs), 5),
             "bundled": bundled.get(n)}
        if mha and n != "mha":
            ms = {r["seed"]: r["bits_per_byte"] for r in mha}
            diffs = [r["bits_per_byte"] - ms[r["seed"]] for r in rs if r["seed"] in ms]
            if diffs:
                dm, dci = tint(diffs)
                db = [a - b for a, b in zip(boot[n], boot["mha"])]
                e["delta_vs_mha"] = {"mean": round(dm, 5), "ci95": [round(dci[0], 5), round(dci[1], 5)],
                                     "ci95_stories": [round(pct(db, 0.025), 5), round(pct(db, 0.975), 5)]}
        out["variants"].append(e)
    return out


def print_table(fam):
    print("\n%-11s %-4s %9s %6s  %-8s %-19s %-19s %s" % ("variant", "attn", "params", "KV B", "bpb", "ci95 (seeds)",
                                                         "ci95 (stories)", "seeds"))
    for e in fam["variants"]:
        print("%-11s %-4s %9d %6d  %.4f  [%.4f, %.4f]   [%.4f, %.4f]   %s %s" % (
            e["name"], e["attention"], e["params"], e["kv_bytes_per_token"], e["bits_per_byte_mean"], e["ci95"][0],
            e["ci95"][1], e["ci95_stories"][0], e["ci95_stories"][1],
            " ".join("%.4f" % s["bits_per_byte"] for s in e["seeds"]), e["bundled"] or ""))


def install(args):
    """Unpack the bundle tars into assets/models (replacing those directories) and copy family.json."""
    for fn in sorted(os.listdir(args.source)):
        if fn.startswith("bundle-") and fn.endswith(".tar"):
            with tarfile.open(os.path.join(args.source, fn)) as t:
                for d in sorted({m.name.split("/")[0] for m in t.getmembers()}):
                    assert d.startswith("story-"), d
                    shutil.rmtree(os.path.join(MODELS_DIR, d), ignore_errors=True)
                t.extractall(MODELS_DIR)
    shutil.copyfile(os.path.join(args.source, "family.json"), os.path.join(MODELS_DIR, "family.json"))
    return 0


def check(kinds):
    """Load every written model with transformers' Auto classes and compare with reference.json."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    ok = True
    for k in kinds:
        d = os.path.join(MODELS_DIR, "story-" + k)
        try:
            ref = json.load(open(os.path.join(d, "reference.json")))
            tok = AutoTokenizer.from_pretrained(d)
            model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        except Exception as e:  # report and go on
            print("check story-%-4s FAILED to load: %s: %s" % (k, type(e).__name__, e))
            ok = False
            continue
        ids = tok("Once upon a time", add_special_tokens=False)["input_ids"]
        same_ids = [tok.bos_token_id] + ids == ref["prompt_ids"]
        with torch.no_grad():
            x = torch.tensor([ref["prompt_ids"] + ref["greedy_ids"]])
            am = model(input_ids=x).logits[0, len(ref["prompt_ids"]) - 1:-1].argmax(-1).tolist()
        good = same_ids and am == ref["greedy_ids"]
        ok &= good
        files = sorted(os.listdir(d))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        print("check story-%-4s %s  tokenizer ids %s, greedy by argmax %s, %.2f MB: %s"
              % (k, "ok " if good else "BAD", same_ids, am == ref["greedy_ids"], size / 1e6, " ".join(files)))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    default_data = os.path.join(REPO, "..", "shared", "data", "tinystories")
    t = sub.add_parser("tokenizer", help="train the shared byte-level BPE")
    t.add_argument("--data", default=default_data)
    t.add_argument("--out", required=True)
    a = sub.add_parser("family", help="train, evaluate and bundle the whole family")
    w = sub.add_parser("worker", help="(internal) train a group of runs in lockstep")
    for p_ in (a, w):
        p_.add_argument("--tokenizer", required=True)
        p_.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "story-family"))
        p_.add_argument("--steps", type=int, default=0, help="optimizer steps; 0: as many as fit in the time")
        p_.add_argument("--batch", type=int, default=64)
        p_.add_argument("--probe-from", type=int, default=20)
        p_.add_argument("--probe-to", type=int, default=70)
        p_.add_argument("--log-every", type=int, default=250)
        p_.add_argument("--no-graph", action="store_true", help="plain steps instead of CUDA graphs")
        p_.add_argument("--compile", action="store_true",
                        help="students' forward pass and loss through torch.compile (inside the CUDA graph)")
        p_.add_argument("--profile-steps", type=int, default=0,
                        help="time the phases of this many steps after --probe-to (batches, teachers, each run)")
    a.add_argument("--data", default=default_data)
    a.add_argument("--out", required=True)
    a.add_argument("--budget", type=float, default=560.0, help="wall-clock seconds for everything")
    a.add_argument("--reserve", type=float, default=130.0, help="seconds kept for evaluation and references")
    a.add_argument("--workers-per-gpu", type=int, default=3)
    a.add_argument("--max-steps", type=int, default=0,
                   help="with --steps 0: at most this many steps, fewer if the measured speed cannot reach them in time")
    a.add_argument("--variants", default="", help="comma-separated subset (default: all)")
    a.add_argument("--seeds", default=",".join(str(s) for s in SEEDS))
    a.add_argument("--recipe", default="{}", help="JSON: changes to RECIPE for every run")
    a.add_argument("--recipes", default="", help="JSON {tag: changes}: compare recipes (no bundling, explore.json)")
    a.add_argument("--holdout", type=int, default=0,
                   help="hold this many real stories out of training and evaluate on them instead of valid.txt")
    a.add_argument("--teacher-seconds", type=float, default=100.0, help="training time of the distillation teacher")
    a.add_argument("--teacher-recipe", default="{}", help="JSON: changes to TEACHER_RECIPE")
    a.add_argument("--teacher-max-steps", type=int, default=0,
                   help="the teachers train as many steps as fit in --teacher-seconds, at most this many (0: no cap)")
    a.add_argument("--teachers", type=int, default=1, help="teachers (seeds 0..N-1, one per GPU); the target is their ensemble")
    a.add_argument("--teacher-select", type=int, default=0,
                   help="every N teacher steps measure it on the --holdout stories and keep its best weights")
    a.add_argument("--student-select", type=int, default=0,
                   help="every N student steps measure each run on the --holdout stories (its weights and moving "
                        "averages: the curve goes to results) and keep its best weights")
    a.add_argument("--keep-teachers", type=int, default=0,
                   help="keep the K teachers best on the --holdout stories (0: all); the target is their ensemble")
    a.add_argument("--teachers-only", action="store_true",
                   help="stage 1: sample, train the teachers, copy them, teachers.json and the samples to --out")
    a.add_argument("--teacher-ckpts", default="", help="stage 2: comma-separated teacher weights from stage 1 "
                   "(teachers.json beside the first); no teacher is trained")
    a.add_argument("--add-teacher-ckpts", default="",
                   help="comma-separated weights of teachers trained by an earlier call (--teachers-only; teachers.json "
                        "beside the first), joined to the --teachers trained in this call: the target is the mean of all")
    a.add_argument("--teacher-seed0", type=int, default=0,
                   help="the seeds of the teachers trained in this call start here (so that they differ from added ones)")
    a.add_argument("--gen-files", default="", help="stage 2: comma-separated samples from stage 1; none are drawn")
    a.add_argument("--gen-stories", type=int, default=65536, help="fresh stories260K samples to draw first (0: none)")
    a.add_argument("--gen-seed", type=int, default=SEED)
    a.add_argument("--gen-procs", type=int, default=0,
                   help="generating processes (0: one per GPU); the bundled family's samples came from 2")
    a.add_argument("--teacher", default=os.path.join(REPO, "..", "shared", "data", "stories260K", "hf"))
    a.add_argument("--teacher-tokenizer", default=os.path.join(REPO, "..", "shared", "data", "stories260K", "tok512.bin"))
    w.add_argument("--recipes", required=True)
    w.add_argument("--solo", action="store_true", help="plan the step count alone (the teacher)")
    w.add_argument("--max-steps", type=int, default=0, help="--solo: plan at most this many steps")
    w.add_argument("--barrier", type=int, default=0, help="wait until this many workers are set up, then start")
    w.add_argument("--teacher-ckpt", default="")
    w.add_argument("--wait-teachers", default="",
                   help="set up first, then wait for this JSON file ({\"teachers\": [paths]}) and load them")
    w.add_argument("--wait-teachers-n", type=int, default=1, help="how many teachers --wait-teachers will name")
    w.add_argument("--save-teacher", default="")
    w.add_argument("--eval-all", action="store_true", help="measure every moving average, not only the kept weights")
    w.add_argument("--select-every", type=int, default=0,
                   help="every N steps measure the weights on the held-out stories and keep the best (teachers)")
    gn = sub.add_parser("generate", help="(internal) sample fresh stories from stories260K")
    gn.add_argument("--teacher", required=True)
    gn.add_argument("--teacher-tokenizer", required=True)
    gn.add_argument("--n", type=int, required=True)
    gn.add_argument("--seed", type=int, required=True)
    gn.add_argument("--batch", type=int, default=32768)
    gn.add_argument("--out", required=True)
    w.add_argument("--runs", required=True)
    w.add_argument("--group", type=int, required=True)
    w.add_argument("--cache", required=True)
    w.add_argument("--train-deadline", type=float, required=True)
    w.add_argument("--hard-deadline", type=float, required=True)
    f = sub.add_parser("finalize", help="(internal) write one bundled model's reference.json")
    f.add_argument("--dir", required=True)
    f.add_argument("--cache", required=True)
    f.add_argument("--result", required=True)
    f.add_argument("--data", default=default_data)
    s = sub.add_parser("assemble", help="rewrite family.json from runs.json (standard library only)")
    s.add_argument("--runs", required=True,
                   help="runs.json, or several (comma-separated) from calls that trained other seeds of the same family")
    s.add_argument("--out-runs", default="", help="write the merged runs.json here")
    s.add_argument("--out", default=os.path.join(MODELS_DIR, "family.json"))
    i = sub.add_parser("install", help="unpack bundle-*.tar and family.json from a family run into assets/models")
    i.add_argument("--from", dest="source", required=True)
    c = sub.add_parser("check", help="load the bundled models with transformers and compare with references")
    c.add_argument("--kinds", default="all")
    args = ap.parse_args()
    if args.cmd == "tokenizer":
        train_tokenizer(args.data, args.out)
        return 0
    if args.cmd == "check":
        return check(sorted(d[6:] for d in os.listdir(MODELS_DIR) if d.startswith("story-"))
                     if args.kinds == "all" else args.kinds.split(","))
    if args.cmd == "finalize":
        return finalize(args)
    if args.cmd == "generate":
        return generate(args)
    if args.cmd == "worker":
        worker(args)
        return 0
    if args.cmd == "assemble":
        doc = merge_runs([json.load(open(fn)) for fn in args.runs.split(",")], args.runs.split(","))
        if args.out_runs:
            with open(args.out_runs, "w") as fo:
                json.dump(doc, fo, indent=1, ensure_ascii=False)
                fo.write("\n")
        fam = assemble_family(doc)
        with open(args.out, "w") as fo:
            json.dump(fam, fo, indent=1, ensure_ascii=False)
            fo.write("\n")
        print_table(fam)
        return 0
    if args.cmd == "install":
        return install(args)
    return family(args)


if __name__ == "__main__":
    sys.exit(main())
