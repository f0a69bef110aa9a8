/* WaveRNN's training recurrence (eq. 1) in C: the forward pass over a window and its exact backward pass.

   The input projections gi_t = I* x_t (+ V h) of every step are computed outside, in one GEMM; so are the
   gradient of R (one GEMM over all steps) and everything after the states. What remains sequential is, per
   step, one mat-vec with R for each clip forward and one with R^T backward, plus the gates. The mat-vecs
   run in register tiles of up to 8 clips x 32 outputs, so each weight is loaded once per step for the tile's
   clips. Threads own slices of the units (and the three gate rows of each), so each reads only its share of
   R; a spinning barrier per step lets no thread run ahead of the state it reads.

   Layout (all float32, row-major): gi (B, T, 3H) and R (3H, H) in nn.GRU's gate order (r, u, e), which the
   forward pass takes transposed, RT (H, 3H): both passes then compute out += x W with W's rows contiguous;
   bias (B, 3H) the recurrent bias of each clip (+ R_b b for concat, eq. 3); h0 (B, H).
   Forward writes states (B, T, H) and saves (B, T, 4H) = r, u, e, (R h_{t-1})_e + bias_e per step.
   Backward reads the states' gradient (B, T, H) and writes dgi (B, T, 3H) (the gates' pre-activation
   gradients), dgh (B, T, 3H) (the gradient of R h_{t-1} + bias) and dh0 (B, H). */

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"

/* Register tiles: TB clips x TN output columns of accumulators, sized to the vector registers (32 x 16
   floats with AVX-512, 16 x 8 with AVX2) so the tile never spills. */
#define TB 8
#if defined(__AVX512F__)
#define TN 32
#else
#define TN 8
#endif

/* acc[b][j] = out[b][n0 + j] + sum_{k < K} x[b][k] W[k][n0 + j] for b < nb, j < width (nb, width <= the
   tile): each W row segment is loaded once for all nb clips. Inlined with constant nb and width, the
   accumulators live in vector registers. */
static inline __attribute__((always_inline)) void tile(int nb, int width, int K, int N, int n0, const float *W,
                                                       const float *const *x, float *const *out) {
    float acc[TB][TN];
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < width; j++) acc[b][j] = out[b][n0 + j];
    for (int k = 0; k < K; k++) {
        const float *row = W + (long)k * N + n0;
        for (int b = 0; b < nb; b++) {
            float w = x[b][k];
            for (int j = 0; j < width; j++) acc[b][j] += w * row[j];
        }
    }
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < width; j++) out[b][n0 + j] = acc[b][j];
}

/* out[b][n] += sum_k x[b][k] W[k][n] for all B clips and the columns n in [lo, hi); W is (K, N). */
static void gemv_batch(int B, int K, int N, int lo, int hi, const float *W, const float *const *x,
                       float *const *out) {
    for (int b0 = 0; b0 < B;) {
        int nb = B - b0 >= TB ? TB : B - b0 >= 4 ? 4 : 1;
        const float *const *xs = x + b0;
        float *const *os = out + b0;
        int n0 = lo;
        for (; n0 + TN <= hi; n0 += TN) {
            if (nb == TB)
                tile(TB, TN, K, N, n0, W, xs, os);
            else if (nb == 4)
                tile(4, TN, K, N, n0, W, xs, os);
            else
                tile(1, TN, K, N, n0, W, xs, os);
        }
        for (int b = 0; b < nb; b++)
            for (int n = n0; n < hi; n++) { /* the last columns when the range is not a multiple of TN */
                float acc = os[b][n];
                for (int k = 0; k < K; k++) acc += xs[b][k] * W[(long)k * N + n];
                os[b][n] = acc;
            }
        b0 += nb;
    }
}

/* A spinning barrier for the call's threads (one per core): a step waits for the other threads' units. */
typedef struct {
    atomic_int arrived, phase;
    int threads;
} Barrier;

static void barrier_wait(Barrier *barrier, int *phase) {
    *phase = !*phase;
    if (atomic_fetch_add(&barrier->arrived, 1) == barrier->threads - 1) {
        atomic_store(&barrier->arrived, 0);
        atomic_store(&barrier->phase, *phase);
    } else {
        for (int spins = 0; atomic_load(&barrier->phase) != *phase; spins++)
            if (spins > 4096) sched_yield(); /* a busy machine: give the core away while waiting */
    }
}

/* One call's arguments; each thread owns the units [lo, hi) of the state (and their three gate rows). */
typedef struct Job {
    int B, T, H, lo, hi, phase;
    Barrier *barrier;
    atomic_int *go; /* 0: wait, 1: run, -1: return at once (a thread could not be started) */
    const float *gi, *W, *bias, *h0, *states, *saved, *dstates;
    float *out_states, *out_saved, *dgi, *dgh, *dh0;
    float *scratch; /* shared: forward R h_{t-1} + bias (B, 3H); backward the carried gradients (2, B, H) */
    void (*body)(struct Job *);
} Job;

static void *start(void *arg) {
    Job *job = arg;
    int go;
    while ((go = atomic_load(job->go)) == 0) sched_yield();
    if (go > 0) job->body(job);
    return NULL;
}

/* Runs ``job->body`` on ``threads`` threads, each owning a share of the H units in whole register tiles;
   the calling thread takes the first share. Without a thread to be had, the calling thread does it all. */
static void parallel_units(Job job, int threads) {
    int tiles = (job.H + TN - 1) / TN;
    if (threads > tiles) threads = tiles;
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    Barrier barrier = {0, 0, threads};
    atomic_int go = 0;
    Job jobs[64];
    pthread_t ids[64];
    int started = 1;
    for (int i = 0; i < threads; i++) {
        jobs[i] = job;
        jobs[i].barrier = &barrier;
        jobs[i].go = &go;
        jobs[i].lo = tiles * i / threads * TN;
        jobs[i].hi = i + 1 == threads ? job.H : tiles * (i + 1) / threads * TN;
    }
    for (; started < threads; started++)
        if (pthread_create(&ids[started], NULL, start, &jobs[started])) break;
    if (started < threads) { /* not all threads started: release them, then run every unit here */
        atomic_store(&go, -1);
        for (int i = 1; i < started; i++) pthread_join(ids[i], NULL);
        barrier.threads = 1;
        jobs[0].lo = 0, jobs[0].hi = job.H;
        job.body(&jobs[0]);
        return;
    }
    atomic_store(&go, 1);
    job.body(&jobs[0]);
    for (int i = 1; i < threads; i++) pthread_join(ids[i], NULL);
}

/* The forward pass for the units [lo, hi): per step, their three gate rows of R h_{t-1} + bias for every
   clip, then their gates and h_t; the barrier lets no thread read h_t before all of it is written. */
static void forward_units(Job *job) {
    const int B = job->B, T = job->T, H = job->H, G = 3 * H, lo = job->lo, hi = job->hi;
    float *gh = job->scratch;
    const float *rows_in[B]; /* this thread's per-clip rows of the step's mat-vec */
    float *rows_out[B];
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) {
            rows_in[b] = t ? job->out_states + ((long)b * T + t - 1) * H : job->h0 + (long)b * H;
            rows_out[b] = gh + (long)b * G;
            for (int gate = 0; gate < 3; gate++)
                memcpy(gh + (long)b * G + gate * H + lo, job->bias + (long)b * G + gate * H + lo,
                       sizeof(float) * (hi - lo));
        }
        for (int gate = 0; gate < 3; gate++) /* R h_{t-1} + bias, this thread's rows of each gate */
            gemv_batch(B, H, G, gate * H + lo, gate * H + hi, job->W, rows_in, rows_out);
        for (int b = 0; b < B; b++) {
            const float *g = job->gi + ((long)b * T + t) * G, *a = gh + (long)b * G, *hp = rows_in[b];
            float *s = job->out_saved + ((long)b * T + t) * 4 * H, *h = job->out_states + ((long)b * T + t) * H;
#pragma omp simd
            for (int k = lo; k < hi; k++) {
                float r = sigmoid(g[k] + a[k]);                         /* r_t (eq. 1) */
                float u = sigmoid(g[H + k] + a[H + k]);                 /* u_t */
                float e = tanh_approx(g[2 * H + k] + r * a[2 * H + k]); /* e_t = tanh(r_t o (R_e h) + I*_e x_t) */
                h[k] = e + u * (hp[k] - e);                             /* h_t = u_t o h_{t-1} + (1 - u_t) o e_t */
                s[k] = r;
                s[H + k] = u;
                s[2 * H + k] = e;
                s[3 * H + k] = a[2 * H + k];
            }
        }
        barrier_wait(job->barrier, &job->phase);
    }
}

/* The backward pass for the units [lo, hi): per step (last first), their gates' gradients for every clip;
   after a barrier (R^T reads every gate's gradient), their columns of dL/dh_{t-1} += R^T dgh_t. */
static void backward_units(Job *job) {
    const int B = job->B, T = job->T, H = job->H, G = 3 * H, lo = job->lo, hi = job->hi;
    float *carry = job->scratch, *next = carry + (long)B * H; /* dL/dh_t from later steps; the one being made */
    const float *rows_in[B]; /* this thread's per-clip rows of the step's mat-vec */
    float *rows_out[B];
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            const float *s = job->saved + ((long)b * T + t) * 4 * H;
            const float *hp = t ? job->states + ((long)b * T + t - 1) * H : job->h0 + (long)b * H;
            const float *dh_out = job->dstates + ((long)b * T + t) * H;
            float *di = job->dgi + ((long)b * T + t) * G, *dg = job->dgh + ((long)b * T + t) * G;
            float *c = carry + (long)b * H, *n = next + (long)b * H;
#pragma omp simd
            for (int k = lo; k < hi; k++) {
                float r = s[k], u = s[H + k], e = s[2 * H + k], ge = s[3 * H + k];
                float dh = dh_out[k] + c[k];
                float de = dh * (1.0f - u), du = dh * (hp[k] - e);
                float dae = de * (1.0f - e * e);
                float dar = dae * ge * r * (1.0f - r), dau = du * u * (1.0f - u);
                di[k] = dar;
                di[H + k] = dau;
                di[2 * H + k] = dae;
                dg[k] = dar;
                dg[H + k] = dau;
                dg[2 * H + k] = dae * r;
                n[k] = dh * u; /* the direct path h_{t-1} -> h_t */
            }
            rows_in[b] = dg;
            rows_out[b] = n;
        }
        barrier_wait(job->barrier, &job->phase);
        gemv_batch(B, G, H, lo, hi, job->W, rows_in, rows_out); /* dL/dh_{t-1} += R^T dgh_t (own columns) */
        float *swap = carry;
        carry = next;
        next = swap;
    }
    for (int b = 0; b < B; b++)
        memcpy(job->dh0 + (long)b * H + lo, carry + (long)b * H + lo, sizeof(float) * (hi - lo));
}

static int run(Job job, int threads, size_t scratch_floats) {
    job.scratch = calloc(scratch_floats, sizeof(float));
    if (!job.scratch) return 1;
    parallel_units(job, threads);
    free(job.scratch);
    return 0;
}

int wavernn_train_forward(int B, int T, int H, int threads, const float *gi, const float *RT, const float *bias,
                          const float *h0, float *states, float *saved) {
    Job job = {.B = B, .T = T, .H = H, .gi = gi, .W = RT, .bias = bias, .h0 = h0, .out_states = states,
               .out_saved = saved, .body = forward_units};
    return run(job, threads, (size_t)B * 3 * H);
}

int wavernn_train_backward(int B, int T, int H, int threads, const float *R, const float *h0, const float *states,
                           const float *saved, const float *dstates, float *dgi, float *dgh, float *dh0) {
    Job job = {.B = B, .T = T, .H = H, .W = R, .h0 = h0, .states = states, .saved = saved, .dstates = dstates,
               .dgi = dgi, .dgh = dgh, .dh0 = dh0, .body = backward_units};
    return run(job, threads, (size_t)2 * B * H);
}
