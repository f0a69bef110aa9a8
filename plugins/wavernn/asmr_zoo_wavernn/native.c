/* WaveRNN's generation loop in C: eq. 1 (with the per-clip terms of eq. 2 and 3 as biases) and the dual
 * softmax, one sample at a time, with int8 or fp32 weights. Built on first use by native.py and called
 * through ctypes; see native.py for the layouts and the reasons.
 *
 * int8 mat-vecs: weights are quantized per output row (symmetric, scale = max|row| / 127) and stored in
 * blocks of 16 rows x 4 columns, so one AVX-512 VNNI instruction (vpdpbusd) multiplies 4 bytes of the
 * input, broadcast, with 16 rows and adds into 16 int32 sums: no horizontal reductions. Inputs are
 * quantized per vector on the fly: the state h (in [-1, 1]) as signed values with zero point 128, the
 * relu outputs of O1 / O3 as unsigned bytes. Without VNNI the same integer sums are computed with AVX2
 * (16-bit products summed in pairs) or in plain C, so every path gives bit-identical results. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && !defined(ASMR_ZOO_GENERIC)
#include <immintrin.h>
#define ASMR_ZOO_VNNI 1
#elif defined(__AVX2__) && !defined(ASMR_ZOO_GENERIC)
#include <immintrin.h>
#define ASMR_ZOO_AVX2 1
#endif

#include "fastmath.h"
#include "pick.h"

#define CLASSES 256
#define MAX_GROUP 8     /* clips run in lockstep, so that one weight load serves all of them */
#define ACCUMULATORS 16 /* int32 sum registers per pass: enough independent chains to hide vpdpbusd's latency */

typedef struct {
    int32_t rows, cols, cols_pad; /* cols_pad: cols rounded up to a multiple of 4 */
    const int8_t *q;              /* int8: q[((r / 16) * (cols_pad / 4) + k / 4) * 64 + (r % 16) * 4 + k % 4] */
    const float *scale;           /* int8: per-row scale */
    const int32_t *sum;           /* int8: per-row sum of q, to remove the input's zero point */
    const float *w;               /* fp32: (rows, cols), used when q is NULL */
    const float *bias;            /* (rows) or NULL */
} Linear;

typedef struct {
    int32_t half;       /* n: units per half of the state; H = 2n */
    float code_scale;   /* the codec's scale: x = code * code_scale - 1 */
    Linear R;           /* 3H x H, rows ordered [r_c u_c e_c | r_f u_f e_f] */
    Linear O1, O2, O3, O4;
    const float *in_c;  /* (3H): I* column reading c_{t-1}, rows ordered as R */
    const float *in_f;  /* (3H): I* column reading f_{t-1} */
    const float *in_t;  /* (3H): I* column reading c_t (zero on coarse rows: the mask) */
} Net;

typedef struct {
    const Net *net;
    int32_t steps;
    Policy policy;
} Run;

typedef struct { /* one clip's buffers; everything (B, ...) is indexed at this clip */
    float *h;               /* (H) in/out: the state */
    int64_t *prev;          /* (2) in/out: the last (coarse, fine) codes */
    const float *bias_g;    /* (3H): per-clip bias added to R h: gh_bias, plus gi_bias on r/u rows */
    const float *bias_e;    /* (H): per-clip input bias of the e rows (gi_bias), [e_c | e_f] */
    const float *uniforms;  /* (steps, 2) uniforms in [0, 1) for sampling, or NULL (greedy / forced) */
    const int64_t *forced;  /* (steps, 2) teacher-forced codes, or NULL */
    int64_t *codes;         /* (steps, 2) out */
    float *logits;          /* (steps, 2, 256) out, or NULL */
} Clip;

/* ---- element-wise math --------------------------------------------------------------------------- */

/* exp_approx, sigmoid, tanh_approx: fastmath.h; pick_class: pick.h */

/* ---- mat-vecs ------------------------------------------------------------------------------------ */

/* Signed input in [-m, m] -> bytes 128 + round(x / s), s = m / 127; returns s. */
static float quantize_signed(const float *x, int n, int n_pad, uint8_t *q) {
    float m = 0.0f;
#pragma omp simd reduction(max : m)
    for (int i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    float s = m > 0.0f ? m / 127.0f : 1.0f, inv = 1.0f / s;
#pragma omp simd
    for (int i = 0; i < n; i++) q[i] = (uint8_t)(int32_t)(x[i] * inv + 128.5f);
    for (int i = n; i < n_pad; i++) q[i] = 128;
    return s;
}

/* Non-negative input -> bytes round(x / s), s = max / 255; returns s. */
static float quantize_unsigned(const float *x, int n, int n_pad, uint8_t *q) {
    float m = 0.0f;
#pragma omp simd reduction(max : m)
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = m > 0.0f ? m / 255.0f : 1.0f, inv = 1.0f / s;
#pragma omp simd
    for (int i = 0; i < n; i++) q[i] = (uint8_t)(int32_t)(x[i] * inv + 0.5f);
    for (int i = n; i < n_pad; i++) q[i] = 0;
    return s;
}

/* Integer sums W x for `count` consecutive 16-row blocks starting at `w` and `m` inputs (clips) at once:
 * each weight load serves every input. acc[(c * count + g) * 16 + r]: input c, block g, row r. */
static inline __attribute__((always_inline)) void block_sums(const int8_t *w, int k4n, const uint8_t *xq, int xqs,
                                                              int m, int count, int32_t *acc) {
#ifdef ASMR_ZOO_VNNI
    __m512i sums[ACCUMULATORS];
    for (int i = 0; i < m * count; i++) sums[i] = _mm512_setzero_si512();
    for (int k = 0; k < k4n; k++) {
        __m512i x[MAX_GROUP];
        for (int c = 0; c < m; c++) {
            int32_t four;
            memcpy(&four, xq + (size_t)c * xqs + 4 * k, sizeof four);
            x[c] = _mm512_set1_epi32(four);
        }
        for (int g = 0; g < count; g++) {
            __m512i weights = _mm512_loadu_si512(w + ((size_t)g * k4n + k) * 64);
            for (int c = 0; c < m; c++) sums[g * m + c] = _mm512_dpbusd_epi32(sums[g * m + c], x[c], weights);
        }
    }
    for (int c = 0; c < m; c++)
        for (int g = 0; g < count; g++) _mm512_storeu_si512(acc + (c * count + g) * 16, sums[g * m + c]);
#elif defined(ASMR_ZOO_AVX2)
    /* AVX2 has no u8 x s8 dot product that cannot saturate (vpmaddubsw adds two products in 16 bits), so
     * both are widened to 16 bits and vpmaddwd adds pairs of products into 32-bit sums: 4 rows x 2 pairs per
     * register, each pair summed at the end. Per clip and block: 4 registers for the block's 16 rows. */
    for (int c = 0; c < m; c++)
        for (int g = 0; g < count; g++) {
            const int8_t *wb = w + (size_t)g * k4n * 64;
            const uint8_t *x = xq + (size_t)c * xqs;
            __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                               _mm256_setzero_si256()};
            for (int k = 0; k < k4n; k++) {
                int32_t four;
                memcpy(&four, x + 4 * k, sizeof four);
                __m256i xv = _mm256_cvtepu8_epi16(_mm_set1_epi32(four)); /* x_4k .. x_4k+3, 4 times */
                for (int q = 0; q < 4; q++) {
                    __m128i rows = _mm_loadu_si128((const __m128i *)(wb + (size_t)k * 64 + 16 * q));
                    sums[q] = _mm256_add_epi32(sums[q], _mm256_madd_epi16(_mm256_cvtepi8_epi16(rows), xv));
                }
            }
            int32_t pairs[32];
            for (int q = 0; q < 4; q++) _mm256_storeu_si256((__m256i *)(pairs + 8 * q), sums[q]);
            for (int r = 0; r < 16; r++) acc[(c * count + g) * 16 + r] = pairs[2 * r] + pairs[2 * r + 1];
        }
#else
    for (int c = 0; c < m; c++)
        for (int g = 0; g < count; g++) {
            const int8_t *wb = w + (size_t)g * k4n * 64;
            const uint8_t *x = xq + (size_t)c * xqs;
            int32_t sums[16] = {0};
            for (int k = 0; k < k4n; k++) /* the block's 64 bytes of column group k, in order */
                for (int r = 0; r < 16; r++)
                    for (int j = 0; j < 4; j++) sums[r] += (int32_t)x[4 * k + j] * (int32_t)wb[(size_t)k * 64 + 4 * r + j];
            memcpy(acc + (c * count + g) * 16, sums, sizeof sums);
        }
#endif
}

/* Blocks per pass for m inputs: as many as the accumulator registers allow. */
static int blocks_per_pass(int m) { return ACCUMULATORS / m < 8 ? ACCUMULATORS / m : 8; }

/* block_sums with the common shapes spelled out, so the compiler keeps the sums in registers. */
static void block_sums_any(const int8_t *w, int k4n, const uint8_t *xq, int xqs, int m, int count, int32_t *acc) {
    if (m == 1 && count == 8)
        block_sums(w, k4n, xq, xqs, 1, 8, acc);
    else if (m == 2 && count == 8)
        block_sums(w, k4n, xq, xqs, 2, 8, acc);
    else if (m == 4 && count == 4)
        block_sums(w, k4n, xq, xqs, 4, 4, acc);
    else if (m == 8 && count == 2)
        block_sums(w, k4n, xq, xqs, 8, 2, acc);
    else
        block_sums(w, k4n, xq, xqs, m, count, acc);
}

/* y_c = W x_c + bias for an int8 layer and m inputs quantized with scales sx[c] and zero point `zero`. */
static void linear_int8(const Linear *L, int m, const uint8_t *xq, int xqs, const float *sx, int32_t zero, float *y,
                        int ys) {
    int blocks = (L->rows + 15) / 16, k4n = L->cols_pad / 4;
    int32_t acc[16 * ACCUMULATORS];
    for (int c0 = 0; c0 < m; ) {
        int mm = m - c0 >= 8 ? 8 : m - c0 >= 4 ? 4 : m - c0 >= 2 ? 2 : 1, full = blocks_per_pass(mm);
        for (int b = 0; b < blocks; b += full) {
            int count = blocks - b < full ? blocks - b : full;
            block_sums_any(L->q + (size_t)b * k4n * 64, k4n, xq + (size_t)c0 * xqs, xqs, mm, count, acc);
            int first = 16 * b, last = first + 16 * count < L->rows ? first + 16 * count : L->rows;
            for (int c = 0; c < mm; c++) {
                float *yc = y + (size_t)(c0 + c) * ys;
                const int32_t *ac = acc + c * count * 16 - first;
                for (int r = first; r < last; r++) {
                    float v = (float)(ac[r] - zero * L->sum[r]) * (sx[c0 + c] * L->scale[r]);
                    yc[r] = L->bias ? v + L->bias[r] : v;
                }
            }
        }
        c0 += mm;
    }
}

static void linear_fp32(const Linear *L, const float *x, float *y) {
    for (int r = 0; r < L->rows; r++) {
        const float *w = L->w + (size_t)r * L->cols;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int k = 0; k < L->cols; k++) s += w[k] * x[k];
        y[r] = L->bias ? s + L->bias[r] : s;
    }
}

/* y_c = W x_c (+ bias), optionally relu'd, for m inputs x_c = x + c * xs (outputs y + c * ys); the inputs are
 * signed (the state) or non-negative (relu outputs). xq: room for m quantized inputs, xqs bytes apart. */
static void linear(const Linear *L, int m, const float *x, int xs, int non_negative, int relu, uint8_t *xq, int xqs,
                   float *y, int ys) {
    if (L->q) {
        float sx[MAX_GROUP];
        for (int c = 0; c < m; c++) {
            const float *xc = x + (size_t)c * xs;
            uint8_t *qc = xq + (size_t)c * xqs;
            sx[c] = non_negative ? quantize_unsigned(xc, L->cols, L->cols_pad, qc)
                                 : quantize_signed(xc, L->cols, L->cols_pad, qc);
        }
        linear_int8(L, m, xq, xqs, sx, non_negative ? 0 : 128, y, ys);
    } else {
        for (int c = 0; c < m; c++) linear_fp32(L, x + (size_t)c * xs, y + (size_t)c * ys);
    }
    if (relu)
        for (int c = 0; c < m; c++) {
            float *yc = y + (size_t)c * ys;
            for (int r = 0; r < L->rows; r++) yc[r] = yc[r] > 0.0f ? yc[r] : 0.0f;
        }
}

/* ---- the cell and the heads ---------------------------------------------------------------------- */

/* Eq. 1 on one half of the state (n units): g = R h_{t-1} for this half's [r; u; e] rows, x = the scaled
 * inputs (c_{t-1}, f_{t-1}, c_t). Updates h (this half) in place. */
static void cell(const Net *net, int half_index, const float *g, const float *bias_g, const float *bias_e,
                 float xc, float xf, float xt, float *h) {
    int n = net->half, o = 3 * n * half_index;
    const float *ic = net->in_c + o, *jf = net->in_f + o, *it = net->in_t + o, *bg = bias_g + o;
    const float *be = bias_e + n * half_index;
    float *hh = h + n * half_index;
    g += o;
#pragma omp simd
    for (int j = 0; j < n; j++) {
        int u = n + j, e = 2 * n + j;
        float r_t = sigmoid(g[j] + bg[j] + ic[j] * xc + jf[j] * xf + it[j] * xt);
        float u_t = sigmoid(g[u] + bg[u] + ic[u] * xc + jf[u] * xf + it[u] * xt);
        float e_t = tanh_approx(be[j] + ic[e] * xc + jf[e] * xf + it[e] * xt + r_t * (g[e] + bg[e]));
        hh[j] = e_t + u_t * (hh[j] - e_t); /* u h_{t-1} + (1 - u) e */
    }
}

typedef struct { /* one worker's buffers for a group of up to MAX_GROUP clips */
    float *h;       /* (MAX_GROUP, H) the clips' states, side by side */
    float *g;       /* (MAX_GROUP, 3H) R h_{t-1} */
    float *hidden;  /* (MAX_GROUP, n) O1 / O3 outputs */
    float *logits;  /* (MAX_GROUP, 256) */
    uint8_t *xq;    /* (MAX_GROUP, xqs) quantized inputs */
    int xqs;
} Scratch;

/* Runs `steps` samples for m clips in lockstep (they share every weight load). */
static void run_group(const Run *run, Clip *clips, int m, Scratch *s) {
    const Net *net = run->net;
    int n = net->half, H = 2 * n;
    float cs = net->code_scale, xc[MAX_GROUP], xf[MAX_GROUP];
    int64_t c[MAX_GROUP], f[MAX_GROUP];
    for (int i = 0; i < m; i++) {
        memcpy(s->h + (size_t)i * H, clips[i].h, sizeof(float) * H);
        c[i] = clips[i].prev[0];
        f[i] = clips[i].prev[1];
    }
    for (int t = 0; t < run->steps; t++) {
        for (int i = 0; i < m; i++) {
            xc[i] = c[i] * cs - 1.0f;
            xf[i] = f[i] * cs - 1.0f;
        }
        linear(&net->R, m, s->h, H, 0, 0, s->xq, s->xqs, s->g, 3 * H); /* R h_{t-1}: all gates, both halves */
        for (int head = 0; head < 2; head++) {
            for (int i = 0; i < m; i++) /* eq. 1 for this half; the fine half reads c_t, already picked */
                cell(net, head, s->g + (size_t)i * 3 * H, clips[i].bias_g, clips[i].bias_e, xc[i], xf[i],
                     head ? c[i] * cs - 1.0f : 0.0f, s->h + (size_t)i * H);
            const Linear *first = head ? &net->O3 : &net->O1, *second = head ? &net->O4 : &net->O2;
            linear(first, m, s->h + head * n, H, 0, 1, s->xq, s->xqs, s->hidden, n); /* relu(O1 y_c), relu(O3 y_f) */
            linear(second, m, s->hidden, n, 1, 0, s->xq, s->xqs, s->logits, CLASSES); /* O2 (...), O4 (...) */
            for (int i = 0; i < m; i++) {
                const float *logits = s->logits + (size_t)i * CLASSES;
                size_t at = 2 * (size_t)t + head;
                int64_t code = clips[i].forced     ? clips[i].forced[at]
                               : clips[i].uniforms ? pick_class(&run->policy, logits, clips[i].uniforms[at])
                                                   : pick_class(&run->policy, logits, 0.0f);
                if (clips[i].logits) memcpy(clips[i].logits + at * CLASSES, logits, sizeof(float) * CLASSES);
                clips[i].codes[at] = code;
                if (head)
                    f[i] = code;
                else
                    c[i] = code;
            }
        }
    }
    for (int i = 0; i < m; i++) {
        memcpy(clips[i].h, s->h + (size_t)i * H, sizeof(float) * H);
        clips[i].prev[0] = c[i];
        clips[i].prev[1] = f[i];
    }
}

typedef struct {
    const Run *run;
    Clip *clips;
    int first, last;
    int failed;
} Worker;

static void *work(void *arg) {
    Worker *wk = arg;
    const Net *net = wk->run->net;
    int H = 2 * net->half, widest = H > CLASSES ? H : CLASSES;
    Scratch s;
    s.xqs = (widest + 63) / 64 * 64;
    s.h = malloc(sizeof(float) * MAX_GROUP * H);
    s.g = malloc(sizeof(float) * MAX_GROUP * 3 * H);
    s.hidden = malloc(sizeof(float) * MAX_GROUP * net->half);
    s.logits = malloc(sizeof(float) * MAX_GROUP * CLASSES);
    s.xq = malloc((size_t)MAX_GROUP * s.xqs);
    if (!s.h || !s.g || !s.hidden || !s.logits || !s.xq) {
        wk->failed = 1;
    } else {
        for (int b = wk->first; b < wk->last; b += MAX_GROUP) {
            int m = wk->last - b < MAX_GROUP ? wk->last - b : MAX_GROUP;
            run_group(wk->run, wk->clips + b, m, &s);
        }
    }
    free(s.h);
    free(s.g);
    free(s.hidden);
    free(s.logits);
    free(s.xq);
    return NULL;
}

/* Generates `steps` samples for `batch` clips with up to `threads` threads (clips are independent).
 * Returns 0, or -1 when memory could not be had. */
int wavernn_run(const Net *net, int32_t batch, int32_t steps, int32_t threads, float inv_temp, int32_t top_k,
                float top_p, int32_t greedy, Clip *clips) {
    Run run = {net, steps, {inv_temp, top_k, top_p, greedy}};
    if (threads > batch) threads = batch;
    if (threads < 1) threads = 1;
    Worker workers[64];
    pthread_t ids[64];
    if (threads > 64) threads = 64;
    for (int i = 0; i < threads; i++)
        workers[i] = (Worker){&run, clips, batch * i / threads, batch * (i + 1) / threads, 0};
    int started[64] = {0}, failed = 0;
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, work, &workers[i]) == 0;
    work(&workers[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else
            work(&workers[i]); /* no thread to be had: do its clips here */
    }
    for (int i = 0; i < threads; i++) failed |= workers[i].failed;
    return failed ? -1 : 0;
}

/* The int8 kernel of this build: AVX-512 VNNI (1), AVX2 (2) or portable C (0). */
int wavernn_simd(void) {
#if defined(ASMR_ZOO_VNNI)
    return 1;
#elif defined(ASMR_ZOO_AVX2)
    return 2;
#else
    return 0;
#endif
}
