// layers.h: the transformer's layers as explicit forward / backward free functions (llm.c style).
// Implemented in layers.cpp, and attention.cpp (attention and rotary embeddings).
//
// Conventions. N = number of rows (B*T), C = channels, V = vocab, F = MLP width, NH = query heads,
// KV = key/value heads (GQA: NH % KV == 0, query head h reads kv head h / (NH/KV)), hs = head size.
// All buffers are row-major float32. Every *_backward ACCUMULATES (+=) into the gradients it produces
// (input and parameter gradients alike), so residual branches add up without copies; callers zero them.
// Forward functions overwrite their outputs. Shapes are given next to each argument.
#pragma once
#include <cstdint>

namespace unfold {

// ---- embedding: out[n,:] = table[ids[n],:]
void embedding_forward(float* out /*[N,C]*/, const int32_t* ids /*[N]*/, const float* table /*[V,C]*/, int64_t N,
                       int64_t C);
void embedding_backward(float* dtable /*[V,C]*/, const float* dout /*[N,C]*/, const int32_t* ids, int64_t N, int64_t C);

// ---- learned positions: out[b,t,:] = wpe[pos0 + t,:]
void position_forward(float* out /*[B,T,C]*/, const float* wpe /*[ctx,C]*/, int64_t B, int64_t T, int64_t pos0,
                      int64_t C);
void position_backward(float* dwpe /*[ctx,C]*/, const float* dout /*[B,T,C]*/, int64_t B, int64_t T, int64_t C);

// ---- LayerNorm (torch.nn.LayerNorm): out = (x - mean) * rstd * w + b; mean, rstd saved for backward.
void layernorm_forward(float* out /*[N,C]*/, float* mean /*[N]*/, float* rstd /*[N]*/, const float* inp /*[N,C]*/,
                       const float* w /*[C]*/, const float* b /*[C]*/, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp /*[N,C]*/, float* dw /*[C]*/, float* db /*[C]*/, const float* dout /*[N,C]*/,
                        const float* inp, const float* w, const float* mean, const float* rstd, int64_t N, int64_t C);

// ---- RMSNorm (Llama): out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps)
void rmsnorm_forward(float* out /*[N,C]*/, float* rstd /*[N]*/, const float* inp /*[N,C]*/, const float* w /*[C]*/,
                     int64_t N, int64_t C, float eps);
void rmsnorm_backward(float* dinp /*[N,C]*/, float* dw /*[C]*/, const float* dout /*[N,C]*/, const float* inp,
                      const float* w, const float* rstd, int64_t N, int64_t C);

// ---- linear layer over BLAS sgemm. Weight layouts:
//   IN_OUT  W[IC,OC] (GPT-2 Conv1D):   out = inp @ W + b
//   OUT_IN  W[OC,IC] (torch Linear):   out = inp @ W^T + b
// ld_out is the row stride of out / dout (>= OC), so several projections can fill one packed buffer.
// bias may be null (then db is ignored).
enum class WLayout { IN_OUT, OUT_IN };
void linear_forward(float* out /*[N,ld_out]*/, int64_t ld_out, const float* inp /*[N,IC]*/, const float* W,
                    const float* bias /*[OC] or null*/, int64_t N, int64_t IC, int64_t OC, WLayout layout);
void linear_backward(float* dinp /*[N,IC] or null*/, float* dW, float* db /*or null*/, const float* dout /*[N,ld_out]*/,
                     int64_t ld_out, const float* inp, const float* W, int64_t N, int64_t IC, int64_t OC,
                     WLayout layout);

// ---- causal multi-head attention with grouped-query heads, in two halves so the pattern can be hooked.
// q rows live at q + (b*T + t) * q_stride (+ h*hs); k/v rows at k + b*kv_bstride + s*kv_stride (+ g*hs).
// Query t sits at absolute position pos0 + t and sees keys s <= pos0 + t, s < S (S = pos0 + T when a KV
// cache supplies the earlier keys; S = T, pos0 = 0 in training). scale = 1/sqrt(hs).
struct AttnDims {
    int64_t B, T, S, pos0, NH, KV, hs;
    int64_t q_stride;    // row stride of q (and of out: NH*hs)
    int64_t kv_stride;   // row stride of k and v
    int64_t kv_bstride;  // batch stride of k and v
};
// att[b,h,t,s] = softmax_s(q.k * scale) with masked entries exactly 0.
void attention_pattern_forward(float* att /*[B,NH,T,S]*/, const float* q, const float* k, const AttnDims& d);
// The same in two steps, for a hook between them (TransformerLens' hook_attn_scores): the scaled scores with
// masked entries -inf, then the softmax in place over the visible keys (masked entries become exactly 0, a row
// whose visible scores are all -inf becomes 0). Together they give attention_pattern_forward's bits.
void attention_scores_forward(float* att /*[B,NH,T,S]*/, const float* q, const float* k, const AttnDims& d);
void attention_softmax_forward(float* att /*[B,NH,T,S]*/, const AttnDims& d);
// out[b,t,h*hs + :] = sum_s att[b,h,t,s] v[b,s,g]
void attention_values_forward(float* out /*[B,T,NH*hs]*/, const float* att, const float* v, const AttnDims& d);
// Backward (training layout: pos0 = 0, S = T). dq/dk/dv use the same strides as q/k/v.
void attention_backward(float* dq, float* dk, float* dv, const float* dout /*[B,T,NH*hs]*/, const float* att,
                        const float* q, const float* k, const float* v, const AttnDims& d);

// ---- rotary embedding, interleaved pairs (llama2.c / Meta layout): for each head and i < hs/2,
// (x[2i], x[2i+1]) is rotated by angle (pos0 + t) * theta^(-2i/hs). In place on x rows [B*T] of `stride`.
void rope_forward(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                  float theta);
// Backward = rotation by the opposite angle, in place on the gradient.
void rope_backward(float* dx, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                   float theta);
// The angle tables llama2.c stores: cos/sin[pos, i] for pos < n_pos, i < hs/2.
void rope_tables(float* cos_out, float* sin_out, int64_t n_pos, int64_t hs, float theta);

// ---- GELU, tanh approximation (GPT-2's gelu_new)
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);

// ---- SwiGLU: out = silu(gate) * up
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);

// ---- softmax + cross-entropy over logits rows. losses[n] = logsumexp(logits[n]) - logits[n, target[n]].
// Targets < 0 are ignored (loss 0, no gradient). Returns the mean over counted rows.
double crossentropy_forward(float* losses /*[N]*/, const float* logits /*[N,V]*/, const int32_t* targets, int64_t N,
                            int64_t V);
// dlogits = (softmax(logits) - onehot(target)) * scale; dlogits may alias logits (then it is overwritten,
// not accumulated). Otherwise dlogits is overwritten too (this one does not accumulate).
void crossentropy_backward(float* dlogits /*[N,V]*/, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                           float scale);

// Residual add: out = a + b (out may alias a).
void residual_forward(float* out, const float* a, const float* b, int64_t n);

}  // namespace unfold
