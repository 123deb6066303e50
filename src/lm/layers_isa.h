// layers_isa.h: private to lm. The per-level copies of the layer functions (layers_isa.cpp, attention_isa.cpp;
// core/isa.h); layers.h's functions call the copy of the current kernel level (layers.cpp).
#pragma once
#include "core/isa.h"
#include "unfold/lm/layers.h"

namespace unfold {

UNFOLD_ISA_DECLARE(
void embedding_forward(float* out , const int32_t* ids , const float* table , int64_t N, int64_t C);
void embedding_backward(float* dtable , const float* dout , const int32_t* ids, int64_t N, int64_t C);
void position_forward(float* out , const float* wpe , int64_t B, int64_t T, int64_t pos0, int64_t C);
void position_backward(float* dwpe , const float* dout , int64_t B, int64_t T, int64_t C);
void layernorm_forward(float* out , float* mean , float* rstd , const float* inp , const float* w , const float* b , int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp , float* dw , float* db , const float* dout , const float* inp, const float* w, const float* mean, const float* rstd, int64_t N, int64_t C);
void rmsnorm_forward(float* out , float* rstd , const float* inp , const float* w , int64_t N, int64_t C, float eps);
void rmsnorm_backward(float* dinp , float* dw , const float* dout , const float* inp, const float* w, const float* rstd, int64_t N, int64_t C);
void linear_forward(float* out , int64_t ld_out, const float* inp , const float* W, const float* bias , int64_t N, int64_t IC, int64_t OC, WLayout layout);
void linear_backward(float* dinp , float* dW, float* db , const float* dout , int64_t ld_out, const float* inp, const float* W, int64_t N, int64_t IC, int64_t OC, WLayout layout);
void attention_pattern_forward(float* att , const float* q, const float* k, const AttnDims& d);
void attention_scores_forward(float* att , const float* q, const float* k, const AttnDims& d);
void attention_softmax_forward(float* att , const AttnDims& d);
void attention_values_forward(float* out , const float* att, const float* v, const AttnDims& d);
void attention_backward(float* dq, float* dk, float* dv, const float* dout , const float* att, const float* q, const float* k, const float* v, const AttnDims& d);
void rope_forward(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs, float theta);
void rope_backward(float* dx, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs, float theta);
void rope_tables(float* cos_out, float* sin_out, int64_t n_pos, int64_t hs, float theta);
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);
double crossentropy_forward(float* losses , const float* logits , const int32_t* targets, int64_t N, int64_t V);
void crossentropy_backward(float* dlogits , const float* logits, const int32_t* targets, int64_t N, int64_t V, float scale);
void residual_forward(float* out, const float* a, const float* b, int64_t n);
)

}  // namespace unfold
