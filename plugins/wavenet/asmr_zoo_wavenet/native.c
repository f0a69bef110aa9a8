/* WaveNet's cached generation loop (fast WaveNet, Paine et al. 2016) in C: per block a ring buffer of its past
   inputs, so one sample costs one mat-vec per layer. Built on first use by native.py, called through ctypes.

   Per sample and clip, with the packed (in, out) row-major weights of WaveNet.init_state:
     x      = T0[c_{t-2}] + T1[c_{t-1}] + b                     causal input convolution (kernel 2) as two table rows
     for each block:
       [f, g] = [x_{t-d}, x_t, 1, h, y] FG                      W_f * x + V_f^T h + V_f y (eq. 6, local conditioning)
       z      = tanh(f) o sigmoid(g)                            eq. 5
       skip  += [z, 1] SK;   x += [z, 1] RS                     skip and residual 1x1 convolutions
     logits = [relu([relu(skip), 1] E1), 1] E2                  relu -> 1x1 -> relu -> 1x1
   and the next code is drawn from softmax(logits) with the policy (pick.h). Mat-vecs keep their sums in
   registers while the weights stream past in the order they are stored (column panels, below).

   With int8 weights (fast_weights=int8) each matrix's columns are quantised symmetrically, one scale per
   column (an output unit); the inputs stay float32, each weight is widened to float in registers and the
   column's sum is scaled once at the end. A quarter of the bytes: the small preset's weights (2.8 MB as
   fp32) then fit in a 1 MB L2 instead of streaming from L3 every sample. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "fastmath.h"
#include "pick.h"

typedef struct {       /* a stack of (rows, n) matrices in column panels: float32 w, or int8 q with a scale per column */
    const float *w;     /* fp32 panels, or NULL */
    const int8_t *q;    /* int8 panels (when w is NULL) */
    const float *scale; /* int8: one per column, the matrices' columns after each other */
} Weights;

typedef struct {
    int32_t blocks, R, D, S, E, ctx; /* residual, dilation, skip, end channels; context width [1, h, y] */
    const int32_t *dilation;         /* (blocks) */
    const float *table;              /* (2, 256, R): the input convolution's taps [t - 1, t] for each code */
    const float *input_bias;         /* (R) */
    Weights fg;                      /* blocks x (2R + ctx, 2D) */
    Weights res;                     /* blocks x (D + 1, R); the last block's is unused */
    Weights skip;                    /* blocks x (D + 1, S) */
    Weights end1;                    /* (S + 1, E) */
    Weights end2;                    /* (E + 1, 256) */
} Net;

typedef struct {
    float *queues;         /* per block, dilation x R ring buffers, blocks after each other */
    int32_t *heads;        /* (blocks): the oldest entry of each ring */
    float *input_past;     /* (R): T0[c_{t-1}], the input convolution's tap on the previous code */
    const float *context;  /* (ctx): [1, h, y] */
    int64_t code;          /* the previous code (in and out) */
    const float *uniforms; /* (steps) uniforms in [0, 1) for sampling, or NULL (greedy) */
    int64_t *codes;        /* (steps) out */
    float *logits;         /* (steps, 256) out, or NULL */
} Clip;

/* Matrices come in column panels (native.py's panels()): the columns are cut into tiles of 64, then 32, 16, 8
   and 1 columns, and each tile's rows are stored one after the other, so a mat-vec reads its weights as one
   sequential stream (what a memory-bound large model needs) while each tile's sums stay in registers. */

/* y[0 : width] (+)= sum_{i < rows} x[i] p[i][0 : width] for one panel p; inlined with a constant width. */
static inline __attribute__((always_inline)) void tile(const float *x, int rows, const float *p, int width,
                                                       float *y, int accumulate) {
    float acc[64];
    if (accumulate) memcpy(acc, y, sizeof(float) * width);
    else memset(acc, 0, sizeof(float) * width);
    for (int i = 0; i < rows; i++) {
        float v = x[i];
        const float *row = p + (long)i * width;
#pragma omp simd
        for (int j = 0; j < width; j++) acc[j] += v * row[j];
    }
    memcpy(y, acc, sizeof(float) * width);
}

/* The same for an int8 panel: the sums in float, times each column's scale at the end. With AVX2, 8 columns
   per register: each 8 bytes widened to int32, converted and multiplied in (GCC keeps a plain loop's sums in
   memory here). */
static inline __attribute__((always_inline)) void tile_q(const float *x, int rows, const int8_t *p, int width,
                                                         const float *scale, float *y, int accumulate) {
    float acc[64];
#ifdef __AVX2__
    if (width >= 8) {
        __m256 sums[8];
        for (int k = 0; k < width / 8; k++) sums[k] = _mm256_setzero_ps();
        for (int i = 0; i < rows; i++) {
            const __m256 v = _mm256_set1_ps(x[i]);
            const int8_t *row = p + (long)i * width;
            for (int k = 0; k < width / 8; k++) {
                __m128i bytes = _mm_loadl_epi64((const __m128i *)(row + 8 * k));
                __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
                sums[k] = _mm256_fmadd_ps(v, w, sums[k]);
            }
        }
        for (int k = 0; k < width / 8; k++) _mm256_storeu_ps(acc + 8 * k, sums[k]);
    } else
#endif
    {
        memset(acc, 0, sizeof(float) * width);
        for (int i = 0; i < rows; i++) {
            const int8_t *row = p + (long)i * width;
            for (int j = 0; j < width; j++) acc[j] += x[i] * (float)row[j];
        }
    }
    for (int j = 0; j < width; j++) y[j] = (accumulate ? y[j] : 0.0f) + acc[j] * scale[j];
}

/* y[0:n] (+)= x[0:rows] W for the matrix of `m` that starts `offset` weights and `column` columns into the
   stack, in panels (8 independent AVX2 or 4 AVX-512 sums per row in the 64-column tiles, enough to hide the
   FMA latency). A bias is W's last row, met by x's trailing 1. */
static void matvec(const float *x, int rows, const Weights *m, long offset, long column, int n, float *y,
                   int accumulate) {
    int j0 = 0, widths[] = {64, 32, 16, 8, 1};
    for (int k = 0; k < 5; k++) {
        const int width = widths[k];
        while (j0 + width <= n) {
            if (m->w) {
                const float *w = m->w + offset;
                if (width == 64) tile(x, rows, w, 64, y + j0, accumulate);
                else if (width == 32) tile(x, rows, w, 32, y + j0, accumulate);
                else if (width == 16) tile(x, rows, w, 16, y + j0, accumulate);
                else if (width == 8) tile(x, rows, w, 8, y + j0, accumulate);
                else tile(x, rows, w, 1, y + j0, accumulate);
            } else {
                const int8_t *q = m->q + offset;
                const float *sc = m->scale + column + j0;
                if (width == 64) tile_q(x, rows, q, 64, sc, y + j0, accumulate);
                else if (width == 32) tile_q(x, rows, q, 32, sc, y + j0, accumulate);
                else if (width == 16) tile_q(x, rows, q, 16, sc, y + j0, accumulate);
                else if (width == 8) tile_q(x, rows, q, 8, sc, y + j0, accumulate);
                else tile_q(x, rows, q, 1, sc, y + j0, accumulate);
            }
            offset += (long)rows * width, j0 += width;
            if (width < 64 && width > 1) break; /* one tile each of 32, 16 and 8 at most (native.py's panels) */
        }
    }
}

static int run_clip(const Net *net, const Policy *policy, int32_t steps, Clip *clip, float *scratch) {
    const int R = net->R, D = net->D, S = net->S, E = net->E, ctx = net->ctx;
    float *x = scratch, *row = x + R, *fg = row + 2 * R + ctx, *z = fg + 2 * D, *skip = z + D + 1;
    float *hidden = skip + S + 1, *logits = hidden + E + 1;
    z[D] = skip[S] = hidden[E] = 1.0f; /* the trailing 1s that meet the bias rows */
    for (int t = 0; t < steps; t++) {
        const float *tap_now = net->table + ((long)PICK_CLASSES + clip->code) * R;
        for (int i = 0; i < R; i++) x[i] = clip->input_past[i] + tap_now[i] + net->input_bias[i];
        memcpy(clip->input_past, net->table + (long)clip->code * R, sizeof(float) * R);
        memset(skip, 0, sizeof(float) * S);
        float *queue = clip->queues;
        for (int b = 0; b < net->blocks; b++) {
            const int d = net->dilation[b];
            float *oldest = queue + (long)clip->heads[b] * R;
            memcpy(row, oldest, sizeof(float) * R);
            memcpy(row + R, x, sizeof(float) * R);
            memcpy(row + 2 * R, clip->context, sizeof(float) * ctx);
            memcpy(oldest, x, sizeof(float) * R); /* x_t replaces x_{t-d} in the ring */
            clip->heads[b] = (clip->heads[b] + 1) % d;
            matvec(row, 2 * R + ctx, &net->fg, (long)b * (2 * R + ctx) * 2 * D, (long)b * 2 * D, 2 * D, fg, 0);
#pragma omp simd
            for (int j = 0; j < D; j++) z[j] = tanh_approx(fg[j]) * sigmoid(fg[D + j]); /* eq. 5 */
            matvec(z, D + 1, &net->skip, (long)b * (D + 1) * S, (long)b * S, S, skip, 1); /* skip += [z, 1] SK */
            if (b + 1 < net->blocks) /* x += [z, 1] RS */
                matvec(z, D + 1, &net->res, (long)b * (D + 1) * R, (long)b * R, R, x, 1);
            queue += (long)d * R;
        }
        for (int j = 0; j < S; j++) skip[j] = skip[j] > 0.0f ? skip[j] : 0.0f;
        matvec(skip, S + 1, &net->end1, 0, 0, E, hidden, 0);
        for (int j = 0; j < E; j++) hidden[j] = hidden[j] > 0.0f ? hidden[j] : 0.0f;
        matvec(hidden, E + 1, &net->end2, 0, 0, PICK_CLASSES, logits, 0);
        if (clip->logits) memcpy(clip->logits + (long)t * PICK_CLASSES, logits, sizeof(float) * PICK_CLASSES);
        clip->code = pick_class(policy, logits, clip->uniforms ? clip->uniforms[t] : 0.0f);
        clip->codes[t] = clip->code;
    }
    return 0;
}

/* Generates `steps` samples for each of `batch` clips. Returns 0, or -1 when memory could not be had. */
int wavenet_run(const Net *net, int32_t batch, int32_t steps, float inv_temp, int32_t top_k, float top_p,
                int32_t greedy, Clip *clips) {
    Policy policy = {inv_temp, top_k, top_p, greedy};
    long size = 3L * net->R + net->ctx + 3L * net->D + net->S + net->E + 3 + PICK_CLASSES;
    float *scratch = malloc(sizeof(float) * (size_t)size);
    if (!scratch) return -1;
    for (int i = 0; i < batch; i++) run_clip(net, &policy, steps, &clips[i], scratch);
    free(scratch);
    return 0;
}
