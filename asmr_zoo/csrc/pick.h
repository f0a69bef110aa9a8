/* Drawing one of 256 classes from logits, shared by the C generation loops: the distribution of
   asmr_zoo.sampling.pick_with_policy (temperature, top-k, nucleus), by inverse CDF on one uniform. */
#ifndef ASMR_ZOO_PICK_H
#define ASMR_ZOO_PICK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"

#define PICK_CLASSES 256

typedef struct {
    float inv_temp; /* 1 / temperature */
    int32_t top_k;  /* 0: all classes */
    float top_p;    /* 1: no nucleus filtering */
    int32_t greedy; /* 1: argmax */
} Policy;

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* One class from logits: argmax when greedy, else temperature, top-k, nucleus, then inverse-CDF sampling
 * with the uniform u (the same distribution as asmr_zoo.sampling.pick_with_policy). */
static int64_t pick_class(const Policy *policy, const float *logits, float u) {
    int best = 0;
    for (int i = 1; i < PICK_CLASSES; i++)
        if (logits[i] > logits[best]) best = i;
    if (policy->greedy) return best;
    float z[PICK_CLASSES], p[PICK_CLASSES], top = logits[best] * policy->inv_temp;
    for (int i = 0; i < PICK_CLASSES; i++) z[i] = logits[i] * policy->inv_temp;
    float floor_z = -INFINITY; /* classes below floor_z are filtered out */
    if ((policy->top_k > 0 && policy->top_k < PICK_CLASSES) || policy->top_p < 1.0f) {
        float sorted[PICK_CLASSES];
        memcpy(sorted, z, sizeof sorted);
        qsort(sorted, PICK_CLASSES, sizeof(float), cmp_desc);
        int keep = policy->top_k > 0 && policy->top_k < PICK_CLASSES ? policy->top_k : PICK_CLASSES;
        floor_z = sorted[keep - 1];
        while (keep < PICK_CLASSES && sorted[keep] >= floor_z) keep++; /* ties with the k-th are kept */
        if (policy->top_p < 1.0f) {
            float total = 0.0f, before = 0.0f;
            for (int i = 0; i < keep; i++) total += exp_approx(sorted[i] - top);
            int i = 0;
            while (i < keep && before <= policy->top_p * total) before += exp_approx(sorted[i++] - top);
            floor_z = sorted[i - 1];
        }
    }
    float total = 0.0f;
    for (int i = 0; i < PICK_CLASSES; i++) {
        p[i] = z[i] >= floor_z ? exp_approx(z[i] - top) : 0.0f;
        total += p[i];
    }
    float target = u * total, cum = 0.0f;
    for (int i = 0; i < PICK_CLASSES; i++) {
        cum += p[i];
        if (p[i] > 0.0f && cum > target) return i;
    }
    return best; /* u * total rounded past the last class: the most likely one */
}

#endif
