/* One peer's adapter for timer_main.c: load MODEL_ARG, score rows of f32 features (NaN =
 * missing) into f32 probabilities. */
#ifndef PEER_H
#define PEER_H
int peer_init(const char *model_arg, int n_features, int max_rows);
float peer_predict1(const float *row, int n_features);
void peer_batch(const float *rows, int n_rows, int n_features, float *out);
#endif
