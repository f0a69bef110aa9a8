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
   registers while the weights stream past in the order they are stored (column panels, below). */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "pick.h"

typedef struct {
    int32_t blocks, R, D, S, E, ctx; /* residual, dilation, skip, end channels; context width [1, h, y] */
    const int32_t *dilation;         /* (blocks) */
    const float *table;              /* (2, 256, R): the input convolution's taps [t - 1, t] for each code */
    const float *input_bias;         /* (R) */
    const float *fg;                 /* blocks x (2R + ctx, 2D) */
    const float *res;                /* blocks x (D + 1, R); the last block's is unused */
    const float *skip;               /* blocks x (D + 1, S) */
    const float *end1;               /* (S + 1, E) */
    const float *end2;               /* (E + 1, 256) */
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

/* y[0:n] (+)= x[0:rows] W for W (rows, n) in panels (8 independent AVX2 or 4 AVX-512 sums per row in the
   64-column tiles, enough to hide the FMA latency). A bias is W's last row, met by x's trailing 1. */
static void matvec(const float *x, int rows, const float *w, int n, float *y, int accumulate) {
    int j0 = 0;
    for (; j0 + 64 <= n; j0 += 64, w += (long)rows * 64) tile(x, rows, w, 64, y + j0, accumulate);
    if (j0 + 32 <= n) tile(x, rows, w, 32, y + j0, accumulate), j0 += 32, w += (long)rows * 32;
    if (j0 + 16 <= n) tile(x, rows, w, 16, y + j0, accumulate), j0 += 16, w += (long)rows * 16;
    if (j0 + 8 <= n) tile(x, rows, w, 8, y + j0, accumulate), j0 += 8, w += (long)rows * 8;
    for (; j0 < n; j0++, w += rows) tile(x, rows, w, 1, y + j0, accumulate);
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
            matvec(row, 2 * R + ctx, net->fg + (long)b * (2 * R + ctx) * 2 * D, 2 * D, fg, 0);
#pragma omp simd
            for (int j = 0; j < D; j++) z[j] = tanh_approx(fg[j]) * sigmoid(fg[D + j]); /* eq. 5 */
            matvec(z, D + 1, net->skip + (long)b * (D + 1) * S, S, skip, 1); /* skip += [z, 1] SK */
            if (b + 1 < net->blocks) matvec(z, D + 1, net->res + (long)b * (D + 1) * R, R, x, 1); /* x += [z, 1] RS */
            queue += (long)d * R;
        }
        for (int j = 0; j < S; j++) skip[j] = skip[j] > 0.0f ? skip[j] : 0.0f;
        matvec(skip, S + 1, net->end1, E, hidden, 0);
        for (int j = 0; j < E; j++) hidden[j] = hidden[j] > 0.0f ? hidden[j] : 0.0f;
        matvec(hidden, E + 1, net->end2, PICK_CLASSES, logits, 0);
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
