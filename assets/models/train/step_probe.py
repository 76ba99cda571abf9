"""Where a student's training step spends its GPU time, and which way of running many runs is fastest
(session 7's measurements in docs/models.md and the README beside this file).
Usage, from the repository root on a CUDA machine, one section per process (synthetic ids, random weights):
    python3 assets/models/train/step_probe.py single|seq6|teacher|profile|vmap:NAME|streams|compile
`streams` (each run's graph replayed on its own stream) hung on an H200 in sessions 5 and 7: run it under
`timeout`."""
import copy, math, sys, time
sys.path.insert(0, "assets/models/train")
import train as T
L = T.nn_lib()
torch, F, Fam = L["torch"], L["F"], L["Fam"]
dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False
B, C, V = 64, T.CTX, T.VOCAB


class A:
    batch = B
    no_graph = False


def mkrun(name, seed=0, pool=None):
    r = T.Run(name, seed, "main", T.RECIPE, A, dev)
    r.t = torch.randn(B, C, V, device=dev).to(torch.bfloat16)
    r.x.copy_(torch.randint(0, V, (B, C)))
    r.y.copy_(torch.randint(0, V, (B, C)))
    return r


def timeit(fn, n=30, warm=5):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - t) / n


sec = sys.argv[1]
t0 = time.time()
if sec == "single":
    for name in ("mha", "mqa", "mla64", "gpt2", "moe"):
        r = mkrun(name)
        r.capture(None)
        print("single %s graph %s: %.2f ms per step" % (name, r.mode, timeit(lambda: r.step(1e-3))), flush=True)
        r.graph = None
        print("single %s eager: %.2f ms per step" % (name, timeit(lambda: r.step(1e-3), n=10, warm=2)), flush=True)
        del r
        torch.cuda.empty_cache()
elif sec == "seq6":
    pool = torch.cuda.graph_pool_handle()
    rs = [mkrun(n, s) for n, s in (("mha", 0), ("gqa2", 0), ("mqa", 0), ("mla64", 0), ("gpt2", 0), ("moe", 0))]
    for r in rs:
        r.capture(pool)

    def all_():
        for r in rs:
            r.step(1e-3)
    print("seq6 one process, graphs replayed in turn: %.2f ms per step (6 runs)" % timeit(all_), flush=True)
elif sec == "streams":
    rs = [mkrun(n, s) for n, s in (("mha", 0), ("gqa2", 0), ("mqa", 0), ("mla64", 0), ("gpt2", 0), ("moe", 0))]
    for r in rs:
        r.capture(None)      # a private pool each
        r.stream = torch.cuda.Stream()
    print("streams: captured", flush=True)

    def all_():
        cur = torch.cuda.current_stream()
        for r in rs:
            r.lr_t.fill_(1e-3)
            r.stream.wait_stream(cur)
            with torch.cuda.stream(r.stream):
                r.graph.replay()
        for r in rs:
            cur.wait_stream(r.stream)
    print("streams one process, a stream per run: %.2f ms per step (6 runs)" % timeit(all_), flush=True)
elif sec == "profile":
    from torch.profiler import profile, ProfilerActivity
    for name in ("mha", "moe"):
        r = mkrun(name)
        for _ in range(3):
            r.step(1e-3)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            for _ in range(5):
                r.step(1e-3)
            torch.cuda.synchronize()
        ka = p.key_averages()
        tot = sum(k.self_device_time_total for k in ka) / 5 / 1000
        print("profile %s: %.2f ms of kernels per step, %d kernel launches per step" % (
            name, tot, sum(k.count for k in ka) // 5), flush=True)
        print(ka.table(sort_by="self_device_time_total", row_limit=14, max_name_column_width=70), flush=True)
elif sec == "teacher":
    tms = []
    for s in range(2):
        torch.manual_seed(s)
        tms.append(Fam(T.TEACHER).to(dev).eval())
    x = torch.randint(0, V, (B, C), device=dev)
    buf = torch.zeros(B, C, V, dtype=torch.bfloat16, device=dev)

    def f32w():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            lp = torch.stack([torch.log_softmax(tm(x)[0].float(), -1) for tm in tms])
            buf.copy_(torch.logsumexp(lp, 0) - math.log(2))
    print("teacher pair, fp32 weights under autocast (as now): %.2f ms" % timeit(f32w, n=10), flush=True)
    g = torch.cuda.CUDAGraph()
    st = torch.cuda.Stream()
    st.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(st):
        f32w()
    torch.cuda.current_stream().wait_stream(st)
    with torch.cuda.graph(g):
        f32w()
    print("teacher pair, graphed: %.2f ms" % timeit(g.replay, n=10), flush=True)
elif sec.startswith("vmap"):
    from torch.func import stack_module_state, functional_call
    name = sec.split(":")[1] if ":" in sec else "mha"
    S = 3
    v = T.VBYNAME[name]
    ms = []
    for s in range(S):
        torch.manual_seed(s)
        ms.append(Fam(v).to(dev))
    params, bufs = stack_module_state(ms)
    base = copy.deepcopy(ms[0]).to("meta")
    moe = v["arch"] == "moe"

    def f(p, b, x):
        lo, aux = functional_call(base, (p, b), (x,))
        return (lo, aux) if moe else lo
    X = torch.randint(0, V, (S, B, C), device=dev)
    Y = torch.randint(0, V, (S, B, C), device=dev)
    Tt = torch.randn(S, B, C, V, device=dev).to(torch.bfloat16)
    plist = list(params.values())
    opt = torch.optim.AdamW([{"params": [p for p in plist if p.ndim >= 3], "weight_decay": 0.1},
                             {"params": [p for p in plist if p.ndim < 3], "weight_decay": 0.0}],
                            lr=torch.tensor(1e-3, device=dev), betas=(0.9, 0.95), eps=1e-8, fused=True, capturable=True)
    emas = [p.detach().clone() for p in plist]

    def body():
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            out = torch.vmap(f, randomness="different")(params, bufs, X)
        logits, aux = out if moe else (out, None)
        logp = F.log_softmax(logits.float(), -1)
        hard = -logp.gather(-1, Y.unsqueeze(-1)).squeeze(-1)
        soft = -(F.softmax(Tt.float(), -1) * logp).sum(-1)
        total = soft.mean((1, 2)).sum()
        if moe:
            total = total + T.MOE_AUX_COEF * aux.sum()
        total.backward()
        gs = [p.grad for p in plist]
        norm = torch.stack([g.float().pow(2).flatten(1).sum(1) for g in gs]).sum(0).sqrt()
        coef = (1.0 / (norm + 1e-6)).clamp(max=1.0)
        torch._foreach_mul_(gs, [coef.view([S] + [1] * (g.ndim - 1)).to(g.dtype) for g in gs])
        opt.step()
        torch._foreach_lerp_(emas, plist, 0.01)

    st = torch.cuda.Stream()
    st.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(st):
        for _ in range(2):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(st)
    opt.zero_grad(set_to_none=True)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        body()
    print("vmap %s x%d graph: %.2f ms per step (%.2f per run)" % (name, S, timeit(g.replay), timeit(g.replay) / S),
          flush=True)
elif sec == "compile":
    r = mkrun("mha")
    tc = time.time()
    r.model.forward = torch.compile(r.model.forward, dynamic=False)
    r.graph = None
    print("compile mha eager-compiled: %.2f ms per step (first steps incl. compile %.1f s)" % (
        timeit(lambda: r.step(1e-3), n=10, warm=3), time.time() - tc), flush=True)
    r.capture(None)
    print("compile mha compiled + graph %s: %.2f ms per step" % (r.mode, timeit(lambda: r.step(1e-3))), flush=True)
print("section %s done in %.1f s" % (sec, time.time() - t0), flush=True)
