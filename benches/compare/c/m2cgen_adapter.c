/* m2cgen's generated C (score over f64 inputs, two class probabilities). */
#include "peer.h"

void score(double *input, double *output);

int peer_init(const char *model_arg, int n_features, int max_rows) {
    (void)model_arg; (void)n_features; (void)max_rows;
    return 0;
}

float peer_predict1(const float *row, int n_features) {
    double x[n_features];
    for (int j = 0; j < n_features; j++) x[j] = row[j];
    double out[2];
    score(x, out);
    return (float)out[1];
}

#include "loop_batch.h"
