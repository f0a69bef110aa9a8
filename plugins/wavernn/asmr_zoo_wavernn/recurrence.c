/* WaveRNN's training recurrence (eq. 1) in C: the forward pass over a window and its exact backward pass.

   The input projections gi_t = I* x_t (+ V h) of every step are computed outside, in one GEMM; so are the
   gradient of R (one GEMM over all steps) and everything after the states. What remains sequential is, per
   step, one mat-vec with R for each clip forward and one with R^T backward, plus the gates. The mat-vecs
   run in register tiles of up to 8 clips x 32 outputs (8 with AVX2), so each weight is loaded once per step
   for the tile's clips, from R packed in column panels once per call. Threads own slices of the units (and
   the three gate rows of each), so each reads only its share of R; a spinning barrier per step lets no
   thread run ahead of the state it reads.

   Layout (all float32, row-major): gi (B, T, 3H) and R (3H, H) in nn.GRU's gate order (r, u, e); bias (B, 3H) the recurrent bias of each clip (+ R_b b for concat, eq. 3); h0 (B, H).
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

/* Register tiles: TB clips x TN output columns of accumulators, sized to the vector registers (8 x 32 floats
   in 16 of AVX-512's 32 registers, 8 x 8 in 8 of AVX2's 16) so the tile never spills. The tile is written
   with the vector unit's own fused multiply-add: left to itself, the compiler vectorised it across the clips
   with gathers on AVX2 and ran at about a tenth of this speed. Without AVX2 or AVX-512 it is plain C. */
#define TB 8
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vec;
#define VL 16
#define NV 2
#define vload _mm512_loadu_ps
#define vstore _mm512_storeu_ps
#define vset1 _mm512_set1_ps
#define vfma _mm512_fmadd_ps
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vec;
#define VL 8
#define NV 1
#define vload _mm256_loadu_ps
#define vstore _mm256_storeu_ps
#define vset1 _mm256_set1_ps
#define vfma _mm256_fmadd_ps
#else
typedef float vec;
#define VL 1
#define NV 8
#define vload(p) (*(p))
#define vstore(p, v) (*(p) = (v))
#define vset1(x) (x)
#define vfma(a, b, c) ((a) * (b) + (c))
#endif
#define TN (VL * NV)

/* Weights in column panels: the TN columns [p TN, p TN + TN) of a (K, N) block, its K rows one after the
   other, so a tile reads its weights as one sequential stream (read in place, W's rows N floats apart, a
   tile's loads were strided and the paper size ran at a fraction of the demo's speed). The last panel is
   zero-padded. */
static int panels(int N) { return (N + TN - 1) / TN; }

/* Packs the (K, N) block whose element (k, n) is W[k sk + n sn] into panels at P (panels(N) K TN floats). */
static void pack(int K, int N, long sk, long sn, const float *W, float *P) {
    for (int p = 0; p < panels(N); p++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < TN; j++) {
                int n = p * TN + j;
                *P++ = n < N ? W[k * sk + n * sn] : 0.0f;
            }
}

/* out[b][n0 + j] += sum_{k < K} x[b][k] P[k][j] for b < nb and the first `width` (<= TN) columns, P one panel:
   each weight row segment is loaded once for all nb clips. Inlined with a constant nb, the accumulators live
   in vector registers. */
static inline __attribute__((always_inline)) void tile(int nb, int K, int n0, int width, const float *P,
                                                       const float *const *x, float *const *out) {
    vec acc[TB][NV];
    float part[TB][TN]; /* the last panel's columns, when fewer than TN remain */
    for (int b = 0; b < nb; b++) {
        const float *o = out[b] + n0;
        if (width < TN) {
            memset(part[b], 0, sizeof part[b]);
            memcpy(part[b], o, sizeof(float) * width);
            o = part[b];
        }
        for (int v = 0; v < NV; v++) acc[b][v] = vload(o + v * VL);
    }
    for (int k = 0; k < K; k++, P += TN) {
        vec w[NV];
        __builtin_prefetch(P + 64 * TN); /* 64 rows ahead: about 20% at hidden 896 (a hint; never faults) */
        for (int v = 0; v < NV; v++) w[v] = vload(P + v * VL);
        for (int b = 0; b < nb; b++) {
            vec xb = vset1(x[b][k]);
            for (int v = 0; v < NV; v++) acc[b][v] = vfma(xb, w[v], acc[b][v]);
        }
    }
    for (int b = 0; b < nb; b++) {
        float *o = width < TN ? part[b] : out[b] + n0;
        for (int v = 0; v < NV; v++) vstore(o + v * VL, acc[b][v]);
        if (width < TN) memcpy(out[b] + n0, part[b], sizeof(float) * width);
    }
}

/* out[b][n] += sum_k x[b][k] W[k][n] for all B clips and the columns n in [lo, hi) of an N-column block packed
   by `pack` (lo a multiple of TN). */
static void gemv_batch(int B, int K, int lo, int hi, const float *P, const float *const *x, float *const *out) {
    for (int b0 = 0; b0 < B;) {
        int nb = B - b0 >= TB ? TB : B - b0 >= 4 ? 4 : 1;
        for (int n0 = lo; n0 < hi; n0 += TN) {
            const float *panel = P + (long)(n0 / TN) * K * TN;
            int width = hi - n0 < TN ? hi - n0 : TN;
            if (nb == TB)
                tile(TB, K, n0, width, panel, x + b0, out + b0);
            else if (nb == 4)
                tile(4, K, n0, width, panel, x + b0, out + b0);
            else
                tile(1, K, n0, width, panel, x + b0, out + b0);
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
    const long panel_floats = (long)panels(H) * H * TN; /* one gate's rows of R, packed */
    float *gh = job->scratch;
    const float *rows_in[B]; /* this thread's per-clip rows of the step's mat-vec */
    float *rows_out[3][B];
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) {
            rows_in[b] = t ? job->out_states + ((long)b * T + t - 1) * H : job->h0 + (long)b * H;
            for (int gate = 0; gate < 3; gate++) {
                rows_out[gate][b] = gh + (long)b * G + gate * H;
                memcpy(rows_out[gate][b] + lo, job->bias + (long)b * G + gate * H + lo, sizeof(float) * (hi - lo));
            }
        }
        for (int gate = 0; gate < 3; gate++) /* R h_{t-1} + bias, this thread's rows of each gate */
            gemv_batch(B, H, lo, hi, job->W + gate * panel_floats, rows_in, rows_out[gate]);
        for (int b = 0; b < B; b++) {
            const float *g = job->gi + ((long)b * T + t) * G, *a = gh + (long)b * G;
            const float *restrict gr = g, *restrict gu = g + H, *restrict ge = g + 2 * H;
            const float *restrict ar = a, *restrict au = a + H, *restrict ae = a + 2 * H, *restrict hp = rows_in[b];
            float *s = job->out_saved + ((long)b * T + t) * 4 * H;
            float *restrict sr = s, *restrict su = s + H, *restrict se = s + 2 * H, *restrict sa = s + 3 * H;
            float *restrict h = job->out_states + ((long)b * T + t) * H;
#pragma omp simd
            for (int k = lo; k < hi; k++) {
                float r = sigmoid(gr[k] + ar[k]);             /* r_t (eq. 1) */
                float u = sigmoid(gu[k] + au[k]);             /* u_t */
                float e = tanh_approx(ge[k] + r * ae[k]);     /* e_t = tanh(r_t o (R_e h) + I*_e x_t) */
                h[k] = e + u * (hp[k] - e);                   /* h_t = u_t o h_{t-1} + (1 - u_t) o e_t */
                sr[k] = r;
                su[k] = u;
                se[k] = e;
                sa[k] = ae[k];
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
            const float *restrict sr = s, *restrict su = s + H, *restrict se = s + 2 * H, *restrict sa = s + 3 * H;
            const float *restrict c = carry + (long)b * H, *restrict prev = hp, *restrict dho = dh_out;
            float *restrict dir = di, *restrict diu = di + H, *restrict die = di + 2 * H;
            float *restrict dgr = dg, *restrict dgu = dg + H, *restrict dge = dg + 2 * H;
            float *restrict n = next + (long)b * H;
#pragma omp simd
            for (int k = lo; k < hi; k++) {
                float r = sr[k], u = su[k], e = se[k], ae = sa[k];
                float dh = dho[k] + c[k];
                float de = dh * (1.0f - u), du = dh * (prev[k] - e);
                float dae = de * (1.0f - e * e);
                float dar = dae * ae * r * (1.0f - r), dau = du * u * (1.0f - u);
                dir[k] = dar;
                diu[k] = dau;
                die[k] = dae;
                dgr[k] = dar;
                dgu[k] = dau;
                dge[k] = dae * r;
                n[k] = dh * u; /* the direct path h_{t-1} -> h_t */
            }
            rows_in[b] = dg;
            rows_out[b] = n;
        }
        barrier_wait(job->barrier, &job->phase);
        gemv_batch(B, G, lo, hi, job->W, rows_in, rows_out); /* dL/dh_{t-1} += R^T dgh_t (own columns) */
        float *swap = carry;
        carry = next;
        next = swap;
    }
    for (int b = 0; b < B; b++)
        memcpy(job->dh0 + (long)b * H + lo, carry + (long)b * H + lo, sizeof(float) * (hi - lo));
}

/* Runs a pass on R packed by `packed` (forward: each gate's rows as an (H, H) block of R^T; backward: R as a
   (3H, H) block) with `scratch_floats` of zeroed scratch. Returns 1 when a buffer cannot be allocated. */
static int run(Job job, int threads, size_t scratch_floats, const float *R, int forward) {
    const int H = job.H;
    const long panel_floats = (long)panels(H) * H * TN;
    float *packed = malloc(sizeof(float) * 3 * panel_floats);
    job.scratch = calloc(scratch_floats, sizeof(float));
    if (!packed || !job.scratch) {
        free(packed);
        free(job.scratch);
        return 1;
    }
    if (forward)
        for (int gate = 0; gate < 3; gate++) pack(H, H, 1, H, R + (long)gate * H * H, packed + gate * panel_floats);
    else
        pack(3 * H, H, H, 1, R, packed);
    job.W = packed;
    parallel_units(job, threads);
    free(packed);
    free(job.scratch);
    return 0;
}

int wavernn_train_forward(int B, int T, int H, int threads, const float *gi, const float *R, const float *bias,
                          const float *h0, float *states, float *saved) {
    Job job = {.B = B, .T = T, .H = H, .gi = gi, .bias = bias, .h0 = h0, .out_states = states, .out_saved = saved,
               .body = forward_units};
    return run(job, threads, (size_t)B * 3 * H, R, 1);
}

int wavernn_train_backward(int B, int T, int H, int threads, const float *R, const float *h0, const float *states,
                           const float *saved, const float *dstates, float *dgi, float *dgh, float *dh0) {
    Job job = {.B = B, .T = T, .H = H, .h0 = h0, .states = states, .saved = saved, .dstates = dstates, .dgi = dgi,
               .dgh = dgh, .dh0 = dh0, .body = backward_units};
    return run(job, threads, (size_t)2 * B * H, R, 0);
}
