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
   fp32) then fit in a 1 MB L2 instead of streaming from L3 every sample.

   With two threads, clips are shared out between them; one clip (batch 1) is split in two halves
   (wavenet_run_pair): each thread owns half of every block's filter and gate units (so z's half is its
   own), and the rows of the skip and residual matrices that read that half, whose partial sums the two
   add after a spin barrier (one per block); of the end convolutions, each takes half of end1's channels
   and the rows of end2 that read them, and the logits' two partial sums meet once more. Both threads keep
   identical copies of x and draw the same code from the same logits. */

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

typedef struct {
    const Net *net;
    const Policy *policy;
    int32_t steps;
    Clip *clips;
    int first, last, failed; /* clips [first, last) */
} Worker;

static void *work(void *arg) {
    Worker *w = arg;
    const Net *net = w->net;
    long size = 3L * net->R + net->ctx + 3L * net->D + net->S + net->E + 3 + PICK_CLASSES;
    float *scratch = malloc(sizeof(float) * (size_t)size);
    if (!scratch) {
        w->failed = 1;
        return NULL;
    }
    for (int i = w->first; i < w->last; i++) run_clip(net, w->policy, w->steps, &w->clips[i], scratch);
    free(scratch);
    return NULL;
}

/* Generates `steps` samples for each of `batch` clips, shared out over up to `threads` threads. Returns 0,
   or -1 when memory could not be had. */
int wavenet_run(const Net *net, int32_t batch, int32_t steps, int32_t threads, float inv_temp, int32_t top_k,
                float top_p, int32_t greedy, Clip *clips) {
    Policy policy = {inv_temp, top_k, top_p, greedy};
    if (threads > batch) threads = batch;
    if (threads > 64) threads = 64;
    if (threads < 1) threads = 1;
    Worker workers[64];
    pthread_t ids[64];
    int started[64] = {0}, failed = 0;
    for (int i = 0; i < threads; i++)
        workers[i] = (Worker){net, &policy, steps, clips, batch * i / threads, batch * (i + 1) / threads, 0};
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, work, &workers[i]) == 0;
    work(&workers[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i]) pthread_join(ids[i], NULL);
        else work(&workers[i]); /* no thread to be had: do its clips here */
    }
    for (int i = 0; i < threads; i++) failed |= workers[i].failed;
    return failed ? -1 : 0;
}

/* The two halves' meeting point: a step counter each, on its own cache line, and the sums they exchange. */
typedef struct {
    _Alignas(64) atomic_long ticks[2][8]; /* ticks[k][0]: how many meetings half k has come to */
    float *res;                           /* (2 parities of the block, 2 halves, R): residual partial sums */
    float *skip;                          /* (2 halves, S): each half's skip partial sums */
    float *logits;                        /* (2 halves, PICK_CLASSES): each half's logit partial sums */
} Shared;

/* Wait for the other half: say this half has come to meeting `count`, then wait until the other has. Spins
   (the wait is under a microsecond when both cores are free), yielding the core after a while so that a
   busy machine slows the loop down rather than stalling it. */
static void meet(Shared *sh, int half, long *count) {
    const long now = ++*count;
    atomic_store_explicit(&sh->ticks[half][0], now, memory_order_release);
    for (long spins = 0; atomic_load_explicit(&sh->ticks[1 - half][0], memory_order_acquire) < now; spins++) {
#ifdef __AVX2__
        _mm_pause();
#endif
        if (spins > 20000) sched_yield();
    }
}

typedef struct {
    const Net *net; /* this half */
    int half;
    Shared *shared;
    const Policy *policy;
    int32_t steps;
    Clip *clip;
    float *buf;     /* its own x, input tap, row, fg, z, skip, hidden and logits */
    int32_t *heads; /* (blocks) its own copy of the ring heads */
} Half;

/* One half of one clip's loop (the scheme in the header comment). Half 0 writes the clip's ring buffers,
   codes, logits and state; both keep their own x, input tap and ring heads, identical by construction. */
static void *run_half(void *arg) {
    Half *hf = arg;
    const Net *net = hf->net;
    Shared *sh = hf->shared;
    Clip *clip = hf->clip;
    const int R = net->R, D = net->D, S = net->S, E = net->E, ctx = net->ctx, t = hf->half;
    float *x = hf->buf, *past = x + R, *row = past + R, *fg = row + 2 * R + ctx, *z = fg + 2 * D, *skip = z + D + 1;
    float *hidden = skip + S + 1, *logits = hidden + E + 1;
    float *mine = sh->skip + (long)t * S, *part = sh->logits + (long)t * PICK_CLASSES;
    int32_t *heads = hf->heads;
    memcpy(past, clip->input_past, sizeof(float) * R);
    memcpy(heads, clip->heads, sizeof(int32_t) * net->blocks);
    z[D] = skip[S] = hidden[E] = 1.0f; /* half 1's bias rows are zeros: each bias is added once */
    long met = 0;
    int64_t code = clip->code;
    for (int32_t step = 0; step < hf->steps; step++) {
        const float *tap_now = net->table + ((long)PICK_CLASSES + code) * R;
        for (int i = 0; i < R; i++) x[i] = past[i] + tap_now[i] + net->input_bias[i];
        memcpy(past, net->table + (long)code * R, sizeof(float) * R);
        memset(mine, 0, sizeof(float) * S);
        float *queue = clip->queues;
        for (int b = 0; b < net->blocks; b++) {
            const int d = net->dilation[b], more = b + 1 < net->blocks;
            float *oldest = queue + (long)heads[b] * R, *sums = sh->res + (long)(b & 1) * 2 * R;
            memcpy(row, oldest, sizeof(float) * R);
            memcpy(row + R, x, sizeof(float) * R);
            memcpy(row + 2 * R, clip->context, sizeof(float) * ctx);
            heads[b] = (heads[b] + 1) % d;
            matvec(row, 2 * R + ctx, &net->fg, (long)b * (2 * R + ctx) * 2 * D, (long)b * 2 * D, 2 * D, fg, 0);
#pragma omp simd
            for (int j = 0; j < D; j++) z[j] = tanh_approx(fg[j]) * sigmoid(fg[D + j]); /* eq. 5 */
            matvec(z, D + 1, &net->skip, (long)b * (D + 1) * S, (long)b * S, S, mine, 1);
            if (more) matvec(z, D + 1, &net->res, (long)b * (D + 1) * R, (long)b * R, R, sums + (long)t * R, 0);
            meet(sh, t, &met);
            if (t == 0) memcpy(oldest, row + R, sizeof(float) * R); /* x_t replaces x_{t-d} in the ring */
            if (more)
                for (int i = 0; i < R; i++) x[i] += sums[i] + sums[R + i];
            queue += (long)d * R;
        }
        for (int j = 0; j < S; j++) {
            const float sum = sh->skip[j] + sh->skip[S + j];
            skip[j] = sum > 0.0f ? sum : 0.0f;
        }
        matvec(skip, S + 1, &net->end1, 0, 0, E, hidden, 0); /* this half's end channels */
        for (int j = 0; j < E; j++) hidden[j] = hidden[j] > 0.0f ? hidden[j] : 0.0f;
        matvec(hidden, E + 1, &net->end2, 0, 0, PICK_CLASSES, part, 0); /* and the logits' share they make */
        meet(sh, t, &met);
        for (int j = 0; j < PICK_CLASSES; j++) logits[j] = sh->logits[j] + sh->logits[PICK_CLASSES + j];
        code = pick_class(hf->policy, logits, clip->uniforms ? clip->uniforms[step] : 0.0f);
        if (t == 0) {
            if (clip->logits) memcpy(clip->logits + (long)step * PICK_CLASSES, logits, sizeof(float) * PICK_CLASSES);
            clip->codes[step] = code;
        }
    }
    if (t == 0) {
        memcpy(clip->input_past, past, sizeof(float) * R);
        memcpy(clip->heads, heads, sizeof(int32_t) * net->blocks);
        clip->code = code;
    }
    return NULL;
}

/* One clip's `steps` samples on two threads, `halves` splitting the net (native.py's halves). Returns 0, 1
   when no second thread could be had (nothing was done), or -1 when memory could not be had. */
int wavenet_run_pair(const Net *halves, int32_t steps, float inv_temp, int32_t top_k, float top_p, int32_t greedy,
                     Clip *clip) {
    Policy policy = {inv_temp, top_k, top_p, greedy};
    const Net *net = &halves[0];
    if (steps <= 0 || net->blocks < 1) return steps <= 0 ? 0 : -1; /* no meetings: nothing to share out */
    const long own = 4L * net->R + net->ctx + 3L * net->D + net->S + net->E + 3 + PICK_CLASSES;
    const long shared = 4L * net->R + 2L * net->S + 2L * PICK_CLASSES;
    float *sums = malloc(sizeof(float) * (size_t)(shared + 2 * own));
    const long stride = (net->blocks + 15) / 16 * 16; /* each half's ring heads on cache lines of their own */
    int32_t *heads = aligned_alloc(64, sizeof(int32_t) * 2 * (size_t)stride);
    if (!sums || !heads) {
        free(sums), free(heads);
        return -1;
    }
    Shared sh;
    for (int k = 0; k < 2; k++) atomic_init(&sh.ticks[k][0], 0);
    sh.res = sums, sh.skip = sums + 4L * net->R, sh.logits = sh.skip + 2L * net->S;
    Half parts[2];
    for (int t = 0; t < 2; t++)
        parts[t] = (Half){&halves[t], t, &sh, &policy, steps, clip, sums + shared + t * own, heads + t * stride};
    pthread_t id;
    int status = 0;
    if (pthread_create(&id, NULL, run_half, &parts[1]) != 0) status = 1;
    else {
        run_half(&parts[0]);
        pthread_join(id, NULL);
    }
    free(sums), free(heads);
    return status;
}
