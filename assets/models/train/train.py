#!/usr/bin/env python3
"""Train the bundled lesson models (the story-* family) for llmscope.

Six tiny causal LMs, identical in width, depth, data, steps, batch and seed, differing only in
what each is meant to show:

  story-mha   Llama, multi-head attention (8 KV heads)
  story-gqa   Llama, grouped-query attention (2 KV heads)
  story-mqa   Llama, multi-query attention (1 KV head)
  story-mla   DeepSeek-V3 architecture, multi-head latent attention, all layers dense
  story-gpt2  GPT-2 (learned positions, LayerNorm, GELU)
  story-moe   Mixtral (Llama with a routed mixture-of-experts FFN), GQA

All share one byte-level BPE tokenizer trained here.  Runs on one CUDA GPU with PyTorch and HF
transformers (written against transformers 5.17, tokenizers 0.23).  By default the six models train
in one process, in lockstep on the same batches (one optimizer step of each model per batch), so
they get exactly the same steps, batches and schedule; --workers 2/3/6 spreads them over processes
that agree on the step count (measured no faster on one H100: the step loop is launch-bound).
From the repository root:

  # 1. tokenizer (seconds); kept outside the repository until the models are written
  python3 assets/models/train/train.py tokenizer --data ../shared/data/tinystories \
      --out .data/story-tokenizer.json
  # 2. train: as many steps as fit in --time-limit seconds (or --steps N), keep the best checkpoint
  #    by loss on a slice of valid.txt, then write each model's reference.json
  python3 assets/models/train/train.py all --data ../shared/data/tinystories \
      --tokenizer .data/story-tokenizer.json --steps 1611
  # 3. reload every model with transformers' Auto classes and compare with its reference.json
  python3 assets/models/train/train.py check

Outputs assets/models/story-<kind>/{config.json, model.safetensors, generation_config.json,
tokenizer.json, tokenizer_config.json, reference.json}.  See README.md beside this file.
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(MODELS_DIR))
EVAL_TXT = os.path.join(MODELS_DIR, "eval.txt")
KINDS = ["mha", "gqa", "mqa", "mla", "gpt2", "moe"]

SPECIAL = "<|endoftext|>"   # BOS and EOS, id 0; stories are separated by it
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
# MLA: per layer and token it caches kv_lora_rank + qk_rope_head_dim elements
MLA_KV_RANK = 64
MLA_ROPE_DIM = 8
MLA_NOPE_DIM = 16
# MoE: 8 experts, top-2
MOE_EXPERTS = 8
MOE_TOPK = 2
MOE_FFN = 112
MOE_AUX_COEF = 0.01


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


def prepare(data_dir, tok_path, cache):
    import torch
    from tokenizers import Tokenizer
    t0 = time.time()
    tok = Tokenizer.from_file(tok_path)
    real = real_stories(os.path.join(data_dir, "train.txt"))
    samp = sampled_stories(os.path.join(data_dir, "sampled-stories260K.txt.gz"))
    stories = real * 2 + samp          # the real stories count twice
    random.Random(SEED).shuffle(stories)
    enc = tok.encode_batch(stories)
    eos = tok.token_to_id(SPECIAL)
    stream, starts = [], []
    for e in enc:
        starts.append(len(stream))
        stream.append(eos)
        stream.extend(e.ids)
    valid_text = open(os.path.join(data_dir, "valid.txt"), encoding="utf-8").read()
    vids = tok.encode(valid_text).ids
    blen = byte_lengths(tok)
    vbytes = len(valid_text.encode("utf-8"))
    assert sum(blen[i] for i in vids) == vbytes, "byte accounting mismatch"
    torch.save({"train": torch.tensor(stream, dtype=torch.int32),
                "starts": torch.tensor(starts, dtype=torch.int64),
                "valid": torch.tensor(vids, dtype=torch.int32),
                "byte_len": torch.tensor(blen, dtype=torch.int64),
                "valid_bytes": vbytes}, cache)
    print("data: %d stories (%d real x2, %d sampled), %d train tokens, valid %d tokens / %d bytes, %.1f s"
          % (len(stories), len(real), len(samp), len(stream), len(vids), vbytes, time.time() - t0), flush=True)


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------

def make_config(kind, vocab):
    from transformers import AutoConfig
    common = dict(vocab_size=vocab, bos_token_id=0, eos_token_id=0, pad_token_id=None, tie_word_embeddings=True)
    rope = {"rope_type": "default", "rope_theta": ROPE_THETA}
    llama = dict(hidden_size=D_MODEL, intermediate_size=FFN, num_hidden_layers=N_LAYERS,
                 num_attention_heads=N_HEADS, max_position_embeddings=CTX, rms_norm_eps=1e-5,
                 hidden_act="silu", attention_bias=False, rope_parameters=rope, **common)
    if kind in ("mha", "gqa", "mqa"):
        kv = {"mha": N_HEADS, "gqa": N_HEADS // 4, "mqa": 1}[kind]
        return AutoConfig.for_model("llama", num_key_value_heads=kv, mlp_bias=False, **llama)
    if kind == "moe":
        l2 = dict(llama, intermediate_size=MOE_FFN)
        return AutoConfig.for_model("mixtral", num_key_value_heads=N_HEADS // 4, num_local_experts=MOE_EXPERTS,
                                    num_experts_per_tok=MOE_TOPK, router_aux_loss_coef=MOE_AUX_COEF,
                                    router_jitter_noise=0.0, sliding_window=None, output_router_logits=False,
                                    **l2)
    if kind == "mla":
        return AutoConfig.for_model(
            "deepseek_v3", num_key_value_heads=N_HEADS, q_lora_rank=None, kv_lora_rank=MLA_KV_RANK,
            qk_rope_head_dim=MLA_ROPE_DIM, qk_nope_head_dim=MLA_NOPE_DIM, v_head_dim=HEAD_DIM,
            first_k_dense_replace=N_LAYERS, n_routed_experts=MOE_EXPERTS, n_shared_experts=1,
            num_experts_per_tok=MOE_TOPK, moe_intermediate_size=MOE_FFN, n_group=1, topk_group=1,
            norm_topk_prob=True, routed_scaling_factor=1.0, rope_interleave=True, **llama)
    if kind == "gpt2":
        return AutoConfig.for_model(
            "gpt2", n_positions=CTX, n_embd=D_MODEL, n_layer=N_LAYERS, n_head=N_HEADS, n_inner=FFN * 3 // 2,
            activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            layer_norm_epsilon=1e-5, **common)
    raise ValueError(kind)


def build_model(cfg, attn, dtype):
    from transformers import AutoModelForCausalLM
    try:
        return AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, dtype=dtype)
    except TypeError:
        return AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, torch_dtype=dtype)


def kv_cache_elems(cfg, kind):
    """Elements cached per token and layer (K and V, or MLA's latent + shared RoPE key)."""
    if kind == "mla":
        return cfg.kv_lora_rank + cfg.qk_rope_head_dim
    if kind == "gpt2":
        return 2 * cfg.n_embd
    return 2 * cfg.num_key_value_heads * (cfg.hidden_size // cfg.num_attention_heads)


# --------------------------------------------------------------------------
# training (one model per process)
# --------------------------------------------------------------------------

def moe_training_patch(model):
    """Training-time speed-up for the Mixtral experts, numerically the same function.

    transformers' default expert loop synchronises with the GPU once per expert and layer, which
    is slow when six training processes share one GPU.  Here every expert runs on every token in
    two batched matmuls and the outputs are mixed with the (sparse) top-k routing weights, which
    are zero for the experts not chosen, so forward and gradients equal the top-k computation.
    Also returns a list that collects each layer's router logits for the load-balancing loss.
    Only the training copy is patched; saved checkpoints and references use transformers' own code.
    """
    import types
    import torch
    from transformers.models.mixtral import modeling_mixtral as mm

    def dense_experts(self, hidden_states, top_k_index, top_k_weights):
        w = torch.zeros(hidden_states.shape[0], self.num_experts, device=hidden_states.device,
                        dtype=top_k_weights.dtype).scatter(1, top_k_index, top_k_weights)
        gu = torch.matmul(hidden_states, self.gate_up_proj.transpose(1, 2))      # [E, N, 2I]
        gate, up = gu.chunk(2, dim=-1)
        act = self.act_fn(gate) * up
        out = torch.matmul(act, self.down_proj.transpose(1, 2))                  # [E, N, d]
        return (out * w.t().unsqueeze(-1).to(out.dtype)).sum(0).to(hidden_states.dtype)

    router_logits = []

    def hook(mod, inp, out):
        if mod.training:
            router_logits.append(out[0])

    n = 0
    for m in model.modules():
        if isinstance(m, mm.MixtralExperts):
            m.forward = types.MethodType(dense_experts, m)
            n += 1
        elif isinstance(m, mm.MixtralTopKRouter):
            m.register_forward_hook(hook)
    assert n == N_LAYERS, "expected one MixtralExperts per layer"
    return router_logits


def load_balance_loss(logits_list, k):
    """Switch-Transformer balance loss, averaged over layers (1.0 when perfectly balanced)."""
    import torch
    tot = 0.0
    for lg in logits_list:
        p = torch.softmax(lg.float(), dim=-1)
        idx = torch.topk(p, k, dim=-1).indices
        frac = torch.zeros_like(p).scatter_(1, idx, 1.0).mean(0) / k
        tot = tot + p.shape[-1] * (frac * p.mean(0)).sum()
    return tot / len(logits_list)


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * p)))


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------

def eval_windows(ids, bos, stride, limit=None):
    """Cut a token stream into windows [BOS] + up to CTX-1 tokens.  Each window scores `stride` new
    tokens; the tokens before them in the window are context only.  stride = CTX-1 gives plain
    non-overlapping windows; a smaller stride gives each scored token at least CTX-1-stride tokens of
    context.  Returns (window tensor, number of context-only tokens) pairs and the tokens scored."""
    import torch
    w = CTX - 1
    n = ids.numel() if limit is None else min(limit, ids.numel())
    out, done = [], 0
    while done < n:
        end = min(n, done + stride)
        start = max(0, end - w)
        x = torch.cat([torch.tensor([bos], dtype=ids.dtype), ids[start:end]])
        out.append((x, done - start))
        done = end
    return out, n


def eval_nats(model, windows, device, autocast, batch=16):
    """Sum of nats over the scored tokens of every window, and their count."""
    import torch
    import torch.nn.functional as F
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            group = windows[i:i + batch]
            L = max(x.numel() for x, _ in group)
            x = torch.zeros((len(group), L), dtype=torch.long)
            m = torch.zeros((len(group), L - 1), dtype=torch.bool)
            for j, (w, k) in enumerate(group):
                x[j, :w.numel()] = w.long()
                m[j, k:w.numel() - 1] = True
            x, m = x.to(device), m.to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logits = model(input_ids=x[:, :-1]).logits
            nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                  reduction="none").view(len(group), -1)
            total += float((nll * m).sum())
            count += int(m.sum())
    if was_training:
        model.train()
    return total, count


# --------------------------------------------------------------------------
# training: all models in one process, in lockstep on the same batches
# --------------------------------------------------------------------------

class Run:
    """One model of the family with its optimizer and best-checkpoint bookkeeping."""

    def __init__(self, kind, vocab, args):
        import torch
        from transformers import GenerationConfig
        self.kind = kind
        self.args = args
        cfg = make_config(kind, vocab)
        torch.manual_seed(SEED)
        self.model = build_model(cfg, "sdpa", torch.float32).to("cuda")
        self.model.train()
        self.router_logits = moe_training_patch(self.model) if kind == "moe" else None
        self.params = sum(p.numel() for p in self.model.parameters())
        decay = [p for p in self.model.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.model.parameters() if p.ndim < 2]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                                      {"params": no_decay, "weight_decay": 0.0}],
                                     lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
        self.out_dir = os.path.join(MODELS_DIR, "story-" + kind)
        self.shadow = build_model(cfg, "eager", torch.bfloat16)      # bf16 copy written to disk
        self.shadow.generation_config = GenerationConfig(bos_token_id=0, eos_token_id=0, pad_token_id=0)
        self.best = (float("inf"), -1)
        self.log = []
        self.loss = None

    def train_step(self, x, y, lr):
        import torch
        import torch.nn.functional as F
        for grp in self.opt.param_groups:
            grp["lr"] = lr
        if self.router_logits is not None:
            self.router_logits.clear()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = self.model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        total = loss
        if self.router_logits is not None:
            total = loss + MOE_AUX_COEF * load_balance_loss(self.router_logits, MOE_TOPK)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.loss = loss.detach()

    def evaluate(self, step, windows, nbytes, elapsed):
        import torch
        nats, n = eval_nats(self.model, windows, "cuda", autocast=True)
        vloss, bpb = nats / n, nats / (math.log(2) * nbytes)
        improved = vloss < self.best[0]
        if improved:
            self.best = (vloss, step)
            sd = {k: v.detach().to("cpu", torch.bfloat16) for k, v in self.model.state_dict().items()}
            r = self.shadow.load_state_dict(sd, strict=False)
            if r.missing_keys or r.unexpected_keys:
                print("[%s] state-dict mismatch: %s" % (self.kind, r), flush=True)
            self.shadow.save_pretrained(self.out_dir)
        tl = float(self.loss) if self.loss is not None else float("nan")
        self.log.append({"step": step, "train_loss": round(tl, 4), "val_loss": round(vloss, 4),
                         "val_bpb": round(bpb, 4), "seconds": round(elapsed, 1)})
        print("[%-4s] step %5d  train %.4f  val %.4f  slice-bpb %.4f  %6.1f s%s"
              % (self.kind, step, tl, vloss, bpb, elapsed, "  *" if improved else ""), flush=True)


# groups of models trained in lockstep by one worker process each, balanced by measured CPU cost
GROUPS = {1: [KINDS], 2: [["moe", "mqa", "mha"], ["mla", "gqa", "gpt2"]],
          3: [["moe", "mqa"], ["mla", "gqa"], ["gpt2", "mha"]], 6: [[k] for k in KINDS]}


def train_group(args):
    """Worker: train the models in args.kinds in lockstep on the shared batch stream.

    With several workers, each measures its speed over steps 5..45, and all of them take the same
    step count from the slowest worker and the shared deadline, so every model of the family gets
    exactly the same steps, batches and schedule."""
    import gc
    import torch
    data = torch.load(args.cache)
    train = data["train"].to("cuda").long()
    starts = data["starts"]
    byte_len = data["byte_len"]
    vocab = int(byte_len.numel())
    windows, n_scored = eval_windows(data["valid"], 0, args.stride, limit=args.val_tokens)
    nbytes = int(byte_len[data["valid"][:n_scored].long()].sum())
    kinds = args.kinds.split(",")
    runs = [Run(k, vocab, args) for k in kinds]
    print("worker %d: %s" % (args.group, ", ".join("%s %d params" % (r.kind, r.params) for r in runs)), flush=True)
    gc.collect()
    gc.freeze()                                  # keep the collector off the long-lived model objects

    g = torch.Generator().manual_seed(SEED)       # the same batch stream in every worker
    ar = torch.arange(CTX + 1, device="cuda")
    n_tok = train.numel()
    half = args.batch // 2
    steps = args.steps if args.steps > 0 else 10**9
    t0 = time.time()
    t_probe = None
    stopped_early = False
    step = 0
    while step < steps:
        if time.time() > args.deadline + 30:
            stopped_early = True
            break
        # half of the rows start at a story boundary (BOS at position 0, as at inference), half anywhere
        si = torch.randint(0, starts.numel(), (half,), generator=g)
        s1 = starts[si].clamp(max=n_tok - CTX - 2)
        s2 = torch.randint(0, n_tok - CTX - 2, (args.batch - half,), generator=g)
        off = torch.cat([s1, s2]).to("cuda")
        batch = train[off[:, None] + ar[None, :]]
        x, y = batch[:, :-1], batch[:, 1:]
        lr = lr_at(step, steps if steps < 10**9 else 10**6, args.lr, args.warmup)
        for r in runs:
            r.train_step(x, y, lr)
        step += 1
        if args.steps <= 0 and step == 5:
            torch.cuda.synchronize()
            t_probe = time.time()
        if args.steps <= 0 and step == 45:
            torch.cuda.synchronize()
            per_step = (time.time() - t_probe) / 40
            tmp = os.path.join(args.workdir, "tmp-speed-%d.json" % args.group)
            with open(tmp, "w") as f:
                json.dump({"per_step": per_step, "left": args.deadline - time.time()}, f)
            os.replace(tmp, os.path.join(args.workdir, "speed-%d.json" % args.group))
            speeds, waited = [], time.time()
            while len(speeds) < args.n_groups and time.time() - waited < 120:
                time.sleep(0.2)
                speeds = [json.load(open(os.path.join(args.workdir, fn))) for fn in os.listdir(args.workdir)
                          if fn.startswith("speed-")]
            slowest = max(sp["per_step"] for sp in speeds)
            left = min(sp["left"] for sp in speeds)
            steps = max(step + 1, step + int(0.9 * left / slowest))
            print("worker %d: %.1f ms per step here, slowest worker %.1f ms -> %d steps"
                  % (args.group, 1000 * per_step, 1000 * slowest, steps), flush=True)
        if step % args.eval_every == 0 or step == steps:
            el = time.time() - t0
            for r in runs:
                r.evaluate(step, windows, nbytes, el)
    seconds = time.time() - t0
    for r in runs:
        res = {"kind": r.kind, "params": r.params, "steps": steps if not stopped_early else step,
               "steps_done": step, "batch": args.batch, "seconds": round(seconds, 1), "lr": args.lr,
               "best_val_loss": r.best[0], "best_step": r.best[1], "stopped_early": stopped_early,
               "workers": args.n_groups, "log": r.log,
               "slice": {"tokens": n_scored, "bytes": nbytes, "stride": args.stride}}
        with open(os.path.join(args.workdir, "result-%s.json" % r.kind), "w") as f:
            json.dump(res, f, indent=1)
    print("worker %d: %d steps of %dx%d tokens in %.1f s (%.2f steps/s), peak GPU memory %.1f GB"
          % (args.group, step, args.batch, CTX, seconds, step / seconds,
             torch.cuda.max_memory_allocated() / 2**30), flush=True)


def train_all(args):
    os.makedirs(args.workdir, exist_ok=True)
    for fn in os.listdir(args.workdir):
        if fn.startswith(("speed-", "result-")):
            os.remove(os.path.join(args.workdir, fn))
    cache = os.path.join(args.workdir, "story-data.pt")
    prepare(args.data, args.tokenizer, cache)
    groups = GROUPS[args.workers]
    deadline = time.time() + args.time_limit
    common = ["--cache", cache, "--tokenizer", args.tokenizer, "--workdir", args.workdir,
              "--steps", str(args.steps), "--batch", str(args.batch), "--lr", str(args.lr), "--wd", str(args.wd),
              "--warmup", str(args.warmup), "--eval-every", str(args.eval_every),
              "--val-tokens", str(args.val_tokens), "--stride", str(args.stride),
              "--deadline", str(deadline), "--n-groups", str(len(groups))]
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", "--group", str(i),
                               "--kinds", ",".join(grp)] + common) for i, grp in enumerate(groups)]
    rc = 0
    for p in procs:
        rc |= p.wait()
    kinds = [k for grp in groups for k in grp]
    # references, one process per model (GPU for the validation pass, CPU for the rest)
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "finalize", "--kind", k, "--cache", cache,
                               "--tokenizer", args.tokenizer, "--workdir", args.workdir,
                               "--stride", str(args.stride)]) for k in kinds]
    for p in procs:
        rc |= p.wait()
    rows = [json.load(open(os.path.join(args.workdir, "result-%s.json" % k))) for k in KINDS if k in kinds]
    print("\nkind   params     steps  best_step  slice_val  valid_bpb  (no overlap)  eval_loss  kv_B/token")
    for r in rows:
        print("%-5s  %-9d  %-5d  %-9d  %-9.4f  %-9s  %-12s  %-9s  %s" % (
            r["kind"], r["params"], r["steps_done"], r["best_step"], r["best_val_loss"], r.get("valid_bpb", "-"),
            r.get("valid_bpb_nonoverlap", "-"), r.get("eval_loss", "-"), r.get("kv_bytes_per_token", "-")))
    with open(os.path.join(args.workdir, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return rc


def finalize(args):
    """Reload the best checkpoint (bf16 on disk) in float32 and write reference.json."""
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    kind = args.kind
    out_dir = os.path.join(MODELS_DIR, "story-" + kind)
    res_path = os.path.join(args.workdir, "result-%s.json" % kind)
    res = json.load(open(res_path))
    data = torch.load(args.cache)
    # The models were trained with <|endoftext|> before every story, so the shipped tokenizer
    # adds it in front of a text (add_special_tokens=True), both in tokenizer.json (a
    # TemplateProcessing post-processor, for the tokenizers library) and in tokenizer_config.json.
    from tokenizers.processors import TemplateProcessing
    shipped = Tokenizer.from_file(args.tokenizer)
    shipped.post_processor = TemplateProcessing(single=SPECIAL + " $A", pair=SPECIAL + " $A " + SPECIAL + ":1 $B:1",
                                                special_tokens=[(SPECIAL, shipped.token_to_id(SPECIAL))])
    shipped.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": SPECIAL, "eos_token": SPECIAL,
                   "pad_token": SPECIAL, "model_max_length": CTX, "add_bos_token": True,
                   "clean_up_tokenization_spaces": False}, f, indent=1)
        f.write("\n")
    tok = Tokenizer.from_file(args.tokenizer)   # the trained tokenizer, without the template
    bos = tok.token_to_id(SPECIAL)

    # bits per byte on all of valid.txt, float32 from the bf16 weights (GPU, eager attention)
    m_gpu = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager").cuda()
    vbytes = int(data["valid_bytes"])
    bpb = {}
    for stride in (args.stride, CTX - 1):
        wins, n = eval_windows(data["valid"], bos, stride)
        nats, cnt = eval_nats(m_gpu, wins, "cuda", autocast=False)
        assert cnt == n
        bpb[stride] = nats / (math.log(2) * vbytes)
    del m_gpu
    torch.cuda.empty_cache()

    # the rest on the CPU in float32, eager attention
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager").eval()
    n_params = sum(p.numel() for p in model.parameters())
    ev_text = open(EVAL_TXT, encoding="utf-8").read()
    ev_ids = [bos] + tok.encode(ev_text).ids
    assert len(ev_ids) <= CTX, "eval.txt is longer than the context"
    with torch.no_grad():
        x = torch.tensor([ev_ids])
        logits = model(input_ids=x[:, :-1]).logits[0].float()
        ev_loss = float(F.cross_entropy(logits, x[0, 1:]))

    prompt = "Once upon a time"
    p_ids = [bos] + tok.encode(prompt).ids
    x = torch.tensor([p_ids])
    gc = model.generation_config
    gc.eos_token_id = None          # exactly 48 tokens, not stopping at EOS
    gc.pad_token_id = bos
    with torch.no_grad():
        g_out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=48,
                               do_sample=False, num_beams=1, use_cache=True)
    greedy = g_out[0, len(p_ids):].tolist()
    # smallest top-1/top-2 logit gap along the greedy path (full recomputation, no cache)
    with torch.no_grad():
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
        except Exception as e:  # validation rules for top_k=0 differ between versions
            print("[%s] sampling with top_k=0 failed (%s); using the defaults" % (kind, e), flush=True)
            torch.manual_seed(SEED)
            s_out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=300,
                                   do_sample=True, temperature=0.8, num_beams=1, use_cache=True)
            s_note = "temperature 0.8, generation defaults for top-k/top-p"
    s_ids = s_out[0, len(p_ids):].tolist()
    if bos in s_ids:
        s_ids = s_ids[:s_ids.index(bos)]
    elems = kv_cache_elems(model.config, kind)
    ref = {
        "prompt": prompt,
        "prompt_ids": p_ids,
        "greedy_ids": greedy,
        "greedy_text": tok.decode(greedy, skip_special_tokens=False),
        "greedy_note": "model.generate(do_sample=False, use_cache=True), 48 new tokens, not stopped at EOS; "
                       "float32 from the bf16 weights, eager attention, CPU",
        "greedy_min_top2_gap": round(min_gap, 6),
        "greedy_matches_full_recompute": recomputed == greedy,
        "sample_text": prompt + tok.decode(s_ids, skip_special_tokens=False),
        "sample_note": s_note + ", torch seed %d, stopped at EOS" % SEED,
        "eval": {"file": "assets/models/eval.txt", "tokens": len(ev_ids) - 1, "loss": round(ev_loss, 6)},
        "valid_bpb": round(bpb[args.stride], 4),
        "valid_bpb_nonoverlap": round(bpb[CTX - 1], 4),
        "valid_note": "all of valid.txt as one token stream, float32 from the bf16 weights; valid_bpb: windows of "
                      "[BOS] + up to 511 tokens advancing %d tokens, each token scored once with at least %d "
                      "tokens of context; valid_bpb_nonoverlap: plain [BOS] + 511-token windows"
                      % (args.stride, CTX - 1 - args.stride),
        "params": n_params,
        "kv_cache": {"elements_per_token_per_layer": elems, "layers": N_LAYERS,
                     "bytes_per_token_bf16": elems * N_LAYERS * 2},
        "train": {"steps": res["steps"], "batch": res["batch"], "seq_len": CTX, "seconds": res["seconds"],
                  "best_step": res["best_step"], "lr": res["lr"], "seed": SEED,
                  "stopped_early": res["stopped_early"]},
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")
    res.update(valid_bpb=ref["valid_bpb"], valid_bpb_nonoverlap=ref["valid_bpb_nonoverlap"],
               eval_loss=ref["eval"]["loss"], params=n_params, kv_bytes_per_token=elems * N_LAYERS * 2,
               greedy_text=ref["greedy_text"], sample_text=ref["sample_text"], greedy_min_gap=min_gap)
    with open(res_path, "w") as f:
        json.dump(res, f, indent=1)
    print("[%s] valid %.4f bpb (no overlap %.4f), eval loss %.4f, params %d\n[%s] greedy: %s"
          % (kind, bpb[args.stride], bpb[CTX - 1], ev_loss, n_params, kind,
             ref["greedy_text"].replace("\n", "\\n")), flush=True)


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
    a = sub.add_parser("all", help="train the family, then write the references")
    w = sub.add_parser("worker", help="(internal) train a group of models in lockstep")
    for p_ in (a, w):
        p_.add_argument("--tokenizer", required=True)
        p_.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "story-train"))
        p_.add_argument("--steps", type=int, default=0, help="optimizer steps; 0: as many as fit in the time")
        p_.add_argument("--batch", type=int, default=64)
        p_.add_argument("--lr", type=float, default=2.5e-3)
        p_.add_argument("--wd", type=float, default=0.1)
        p_.add_argument("--warmup", type=int, default=150)
        p_.add_argument("--eval-every", type=int, default=200)
        p_.add_argument("--val-tokens", type=int, default=24576, help="validation slice scored during training")
        p_.add_argument("--stride", type=int, default=256)
    a.add_argument("--data", default=default_data)
    a.add_argument("--time-limit", type=float, default=420.0, help="training time budget and guard (s)")
    a.add_argument("--workers", type=int, default=1, choices=sorted(GROUPS),
                   help="processes; the models of one process train in lockstep")
    w.add_argument("--kinds", required=True)
    w.add_argument("--group", type=int, required=True)
    w.add_argument("--n-groups", type=int, required=True)
    w.add_argument("--cache", required=True)
    w.add_argument("--deadline", type=float, required=True)
    f = sub.add_parser("finalize", help="(internal) write one model's reference.json")
    f.add_argument("--kind", required=True, choices=KINDS)
    f.add_argument("--cache", required=True)
    f.add_argument("--tokenizer", required=True)
    f.add_argument("--workdir", required=True)
    f.add_argument("--stride", type=int, default=256)
    c = sub.add_parser("check", help="load the written models with transformers and compare with references")
    c.add_argument("--kinds", default="all")
    args = ap.parse_args()
    if args.cmd == "tokenizer":
        train_tokenizer(args.data, args.out)
        return 0
    if args.cmd == "check":
        return check(KINDS if args.kinds == "all" else args.kinds.split(","))
    if args.cmd == "finalize":
        finalize(args)
        return 0
    if args.cmd == "worker":
        train_group(args)
        return 0
    return train_all(args)


if __name__ == "__main__":
    sys.exit(main())
