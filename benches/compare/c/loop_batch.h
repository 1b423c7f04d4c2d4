/* Batch for peers without a batch entry point: one peer_predict1 call per row. */
#include <stddef.h>

void peer_batch(const float *rows, int n_rows, int n_features, float *out) {
    for (int i = 0; i < n_rows; i++) out[i] = peer_predict1(rows + (size_t)i * n_features, n_features);
}
