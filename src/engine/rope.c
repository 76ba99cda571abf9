#include "engine/rope.h"
#include <math.h>

static float yarn_mscale(float scale, float mscale) {
    if (scale <= 1.0f) return 1.0f;
    return 0.1f * mscale * logf(scale) + 1.0f;
}

/* base^(-2i/dim) for each rotary pair, computed like torch: float32 exponent, float32 power */
static void inv_freq_default(float base, int dim, float *inv_freq) {
    for (int i = 0; i < dim / 2; i++) inv_freq[i] = 1.0f / powf(base, (float)(2 * i) / (float)dim);
}

void rope_inv_freq_local(const ModelSpec *s, float *inv_freq) { inv_freq_default(s->rope_local_theta, s->rotary_dim, inv_freq); }

float rope_inv_freq(const ModelSpec *s, int seq_len, float *inv_freq) {
    const int dim = s->rotary_dim, half = dim / 2;
    double base = s->rope_theta;
    float attn = 1.0f;
    if (s->rope_scaling == ROPE_SCALE_DYNAMIC) {
        /* HF: seq_len below the original length uses the original frequencies. */
        double L0 = s->rope_orig_max_pos > 0 ? s->rope_orig_max_pos : s->max_pos;
        if (seq_len > L0) {
            double f = s->rope_factor;
            base = base * pow(f * seq_len / L0 - (f - 1.0), (double)dim / (dim - 2));
        }
    }
    inv_freq_default((float)base, dim, inv_freq);
    /* GGUF rope_freqs.weight (llama.cpp divides each frequency by its factor before any scaling) */
    for (int i = 0; i < half && i < s->n_rope_factors; i++) inv_freq[i] /= s->rope_factors[i];
    switch (s->rope_scaling) {
    case ROPE_SCALE_LINEAR:
        for (int i = 0; i < half; i++) inv_freq[i] /= s->rope_factor;
        break;
    case ROPE_SCALE_LLAMA3: {
        const float f = s->rope_factor, lo = s->rope_low_freq_factor, hi = s->rope_high_freq_factor;
        const float L0 = (float)s->rope_orig_max_pos;
        const float low_wl = L0 / lo, high_wl = L0 / hi;
        for (int i = 0; i < half; i++) {
            float wl = 2.0f * (float)M_PI / inv_freq[i];
            if (wl < high_wl) continue;                      /* high frequency: unchanged */
            if (wl > low_wl) { inv_freq[i] /= f; continue; } /* low frequency: interpolate */
            float smooth = (L0 / wl - lo) / (hi - lo);
            inv_freq[i] = (1.0f - smooth) * inv_freq[i] / f + smooth * inv_freq[i];
        }
        break;
    }
    case ROPE_SCALE_YARN: {
        const float f = s->rope_factor;
        const double L0 = s->rope_orig_max_pos > 0 ? s->rope_orig_max_pos : s->max_pos;
        if (s->rope_attn_factor > 0) attn = s->rope_attn_factor;
        else if (s->yarn_mscale != 0.0f && s->yarn_mscale_all_dim != 0.0f)
            attn = yarn_mscale(f, s->yarn_mscale) / yarn_mscale(f, s->yarn_mscale_all_dim);
        else attn = yarn_mscale(f, 1.0f);
        /* dims whose wavelength completes beta_fast .. beta_slow rotations in L0 get a ramp */
        double lowd = dim * log(L0 / (s->yarn_beta_fast * 2 * M_PI)) / (2 * log(s->rope_theta));
        double highd = dim * log(L0 / (s->yarn_beta_slow * 2 * M_PI)) / (2 * log(s->rope_theta));
        if (s->yarn_truncate) { lowd = floor(lowd); highd = ceil(highd); }
        if (lowd < 0) lowd = 0;
        if (highd > dim - 1) highd = dim - 1;
        if (lowd == highd) highd += 0.001;
        for (int i = 0; i < half; i++) {
            float pf = powf((float)s->rope_theta, (float)(2 * i) / (float)dim);
            float extra = 1.0f / pf, inter = 1.0f / (f * pf);
            float ramp = (float)(((double)i - lowd) / (highd - lowd));
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            float extra_factor = 1.0f - ramp;
            inv_freq[i] = inter * (1.0f - extra_factor) + extra * extra_factor;
        }
        break;
    }
    default: break;
    }
    return attn;
}

void rope_apply(float *x, int rotary_dim, RopeStyle style, const float *inv_freq, float attn_factor, int pos) {
    const int half = rotary_dim / 2;
    for (int i = 0; i < half; i++) {
        /* angle computed in f32 as HF does: freqs = inv_freq * pos */
        float ang = inv_freq[i] * (float)pos;
        float c = cosf(ang) * attn_factor, s = sinf(ang) * attn_factor;
        int a = style == ROPE_HALF ? i : 2 * i;
        int b = style == ROPE_HALF ? i + half : 2 * i + 1;
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x1 * c + x0 * s;
    }
}

void rope_apply_heads(float *x, int n_heads, int stride, int rotary_dim, RopeStyle style, const float *inv_freq,
                      float attn_factor, int pos) {
    enum { MAX_HALF = 512 };
    const int half = rotary_dim / 2;
    if (half > MAX_HALF) {
        for (int h = 0; h < n_heads; h++) rope_apply(x + (size_t)h * stride, rotary_dim, style, inv_freq, attn_factor, pos);
        return;
    }
    float cs[MAX_HALF], sn[MAX_HALF];
    for (int i = 0; i < half; i++) {   /* as rope_apply, once for every head */
        float ang = inv_freq[i] * (float)pos;
        cs[i] = cosf(ang) * attn_factor;
        sn[i] = sinf(ang) * attn_factor;
    }
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * stride;
        for (int i = 0; i < half; i++) {
            int a = style == ROPE_HALF ? i : 2 * i;
            int b = style == ROPE_HALF ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[i] - x1 * sn[i];
            v[b] = x1 * cs[i] + x0 * sn[i];
        }
    }
}
