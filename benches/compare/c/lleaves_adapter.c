/* lleaves' compiled LightGBM model (an object file from lleaves.Model.compile), called from C:
 * forest_root over f64 rows; the f64 probability is reported rounded to f32. */
#include <stdlib.h>

#include "peer.h"

void forest_root(double *data, double *out, int start, int end);

static double *wide;
static double *scratch;

int peer_init(const char *model_arg, int n_features, int max_rows) {
    (void)model_arg;
    wide = malloc(sizeof(double) * (size_t)n_features * (size_t)max_rows);
    scratch = malloc(sizeof(double) * (size_t)max_rows);
    return wide == NULL || scratch == NULL;
}

float peer_predict1(const float *row, int n_features) {
    double x[n_features];
    for (int j = 0; j < n_features; j++) x[j] = row[j];
    double out;
    forest_root(x, &out, 0, 1);
    return (float)out;
}

void peer_batch(const float *rows, int n_rows, int n_features, float *out) {
    size_t n = (size_t)n_rows * n_features;
    for (size_t i = 0; i < n; i++) wide[i] = rows[i];
    forest_root(wide, scratch, 0, n_rows);
    for (int i = 0; i < n_rows; i++) out[i] = (float)scratch[i];
}
