// layers.cpp: the layer functions of layers.h, each calling the copy compiled for the current kernel level
// (kernel_level(): AVX2 where the CPU has it and UNFOLD_KERNELS allows it, else the portable copy). Both copies
// compute the same bits (no fused multiply-adds behind the compiler's back: -ffp-contract=off).
#include "unfold/lm/layers.h"

#include "lm/layers_isa.h"

namespace unfold {

void embedding_forward(float* out , const int32_t* ids , const float* table , int64_t N, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), embedding_forward, out, ids, table, N, C);
}

void embedding_backward(float* dtable , const float* dout , const int32_t* ids, int64_t N, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), embedding_backward, dtable, dout, ids, N, C);
}

void position_forward(float* out , const float* wpe , int64_t B, int64_t T, int64_t pos0, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), position_forward, out, wpe, B, T, pos0, C);
}

void position_backward(float* dwpe , const float* dout , int64_t B, int64_t T, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), position_backward, dwpe, dout, B, T, C);
}

void layernorm_forward(float* out , float* mean , float* rstd , const float* inp , const float* w , const float* b , int64_t N, int64_t C, float eps) {
    UNFOLD_ISA_CALL(kernel_level(), layernorm_forward, out, mean, rstd, inp, w, b, N, C, eps);
}

void layernorm_backward(float* dinp , float* dw , float* db , const float* dout , const float* inp, const float* w, const float* mean, const float* rstd, int64_t N, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), layernorm_backward, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}

void rmsnorm_forward(float* out , float* rstd , const float* inp , const float* w , int64_t N, int64_t C, float eps) {
    UNFOLD_ISA_CALL(kernel_level(), rmsnorm_forward, out, rstd, inp, w, N, C, eps);
}

void rmsnorm_backward(float* dinp , float* dw , const float* dout , const float* inp, const float* w, const float* rstd, int64_t N, int64_t C) {
    UNFOLD_ISA_CALL(kernel_level(), rmsnorm_backward, dinp, dw, dout, inp, w, rstd, N, C);
}

void linear_forward(float* out , int64_t ld_out, const float* inp , const float* W, const float* bias , int64_t N, int64_t IC, int64_t OC, WLayout layout) {
    UNFOLD_ISA_CALL(kernel_level(), linear_forward, out, ld_out, inp, W, bias, N, IC, OC, layout);
}

void linear_backward(float* dinp , float* dW, float* db , const float* dout , int64_t ld_out, const float* inp, const float* W, int64_t N, int64_t IC, int64_t OC, WLayout layout) {
    UNFOLD_ISA_CALL(kernel_level(), linear_backward, dinp, dW, db, dout, ld_out, inp, W, N, IC, OC, layout);
}

void attention_pattern_forward(float* att , const float* q, const float* k, const AttnDims& d) {
    UNFOLD_ISA_CALL(kernel_level(), attention_pattern_forward, att, q, k, d);
}

void attention_scores_forward(float* att , const float* q, const float* k, const AttnDims& d) {
    UNFOLD_ISA_CALL(kernel_level(), attention_scores_forward, att, q, k, d);
}

void attention_softmax_forward(float* att , const AttnDims& d) {
    UNFOLD_ISA_CALL(kernel_level(), attention_softmax_forward, att, d);
}

void attention_values_forward(float* out , const float* att, const float* v, const AttnDims& d) {
    UNFOLD_ISA_CALL(kernel_level(), attention_values_forward, out, att, v, d);
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout , const float* att, const float* q, const float* k, const float* v, const AttnDims& d) {
    UNFOLD_ISA_CALL(kernel_level(), attention_backward, dq, dk, dv, dout, att, q, k, v, d);
}

void rope_forward(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs, float theta) {
    UNFOLD_ISA_CALL(kernel_level(), rope_forward, x, stride, B, T, pos0, nheads, hs, theta);
}

void rope_backward(float* dx, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs, float theta) {
    UNFOLD_ISA_CALL(kernel_level(), rope_backward, dx, stride, B, T, pos0, nheads, hs, theta);
}

void rope_tables(float* cos_out, float* sin_out, int64_t n_pos, int64_t hs, float theta) {
    UNFOLD_ISA_CALL(kernel_level(), rope_tables, cos_out, sin_out, n_pos, hs, theta);
}

void gelu_forward(float* out, const float* inp, int64_t n) {
    UNFOLD_ISA_CALL(kernel_level(), gelu_forward, out, inp, n);
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
    UNFOLD_ISA_CALL(kernel_level(), gelu_backward, dinp, inp, dout, n);
}

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
    UNFOLD_ISA_CALL(kernel_level(), swiglu_forward, out, gate, up, n);
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
    UNFOLD_ISA_CALL(kernel_level(), swiglu_backward, dgate, dup, dout, gate, up, n);
}

double crossentropy_forward(float* losses , const float* logits , const int32_t* targets, int64_t N, int64_t V) {
    return UNFOLD_ISA_CALL(kernel_level(), crossentropy_forward, losses, logits, targets, N, V);
}

void crossentropy_backward(float* dlogits , const float* logits, const int32_t* targets, int64_t N, int64_t V, float scale) {
    UNFOLD_ISA_CALL(kernel_level(), crossentropy_backward, dlogits, logits, targets, N, V, scale);
}

void residual_forward(float* out, const float* a, const float* b, int64_t n) {
    UNFOLD_ISA_CALL(kernel_level(), residual_forward, out, a, b, n);
}

}  // namespace unfold
