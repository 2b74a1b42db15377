// Node-API addon: its entry points, and oneDNN convolutions (forward, backward data, backward
// weights) on float32 NHWC tensors that live in a caller's buffer (the tfjs wasm backend's heap),
// written in place. The other kernels are in their own files (see index.ts).
//
// Every call takes the buffer (a typed array over the wasm memory, shared or not), and a
// Float64Array of element offsets and geometry:
//   [a, b, c, bias, n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, act]
// forward:          a = x,  b = filter, c = y,  bias = bias offset or -1, act 0 none / 1 relu / 2 relu6
// backward data:    a = dy, b = filter, c = dx
// backward weights: a = x,  b = dy,     c = dfilter
// The filter is tfjs's [kh, kw, ic/groups, oc] (for a depthwise filter [kh, kw, c, m]: groups = c,
// oc = c*m, the same layout). Dilations are tfjs's (1 = none). Offsets are in float32 elements.
//
// Primitives are built once per geometry and kept (building one costs far more than a small
// convolution); activations stay NHWC, the filter goes to the layout oneDNN prefers (reordered on
// each call: filters are small).
#include <node_api.h>
#include <omp.h>

#include "norm.h"
#include "reduce.h"
#include "standardize.h"
#include "roi_align.h"
#include "deform.h"
#include "optim.h"
#include "pool.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

enum Arg { A, B, C, BIAS, N, IH, IW, IC, OH, OW, OC, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, GROUPS, ACT, NARGS };

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

struct Geometry {
  int64_t v[NARGS];
  memory::dims src() const { return {v[N], v[IC], v[IH], v[IW]}; }
  memory::dims dst() const { return {v[N], v[OC], v[OH], v[OW]}; }
  memory::dims strides() const { return {v[SH], v[SW]}; }
  memory::dims dilates() const { return {v[DH] - 1, v[DW] - 1}; }
  memory::dims padL() const { return {v[PT], v[PL]}; }
  memory::dims padR() const { return {v[PB], v[PR]}; }
  int64_t g() const { return v[GROUPS]; }
  memory::dims wdims() const {
    if (g() == 1) return {v[OC], v[IC], v[KH], v[KW]};
    return {g(), v[OC] / g(), v[IC] / g(), v[KH], v[KW]};
  }
  // tfjs's [kh, kw, ic/g, oc] with oc = g*(oc/g) as strides over oneDNN's (g,) o, i, h, w.
  memory::desc userWeights() const {
    const int64_t co = v[OC], cig = v[IC] / g(), cog = v[OC] / g();
    if (g() == 1) return memory::desc(wdims(), dt::f32, memory::dims{1, co, v[KW] * cig * co, cig * co});
    return memory::desc(wdims(), dt::f32, memory::dims{cog, 1, co, v[KW] * cig * co, cig * co});
  }
  memory::desc anyWeights() const { return memory::desc(wdims(), dt::f32, tag::any); }
  memory::desc nhwc(const memory::dims& d) const { return memory::desc(d, dt::f32, tag::nhwc); }
  std::string key(char kind) const {
    std::string k(1, kind);
    for (int i = N; i < NARGS; i++) k += std::to_string(v[i]) + ",";
    k += v[BIAS] >= 0 ? "b" : "";
    return k;
  }
};

dnnl::convolution_forward::primitive_desc forwardDesc(const Geometry& g, bool bias, int act) {
  const memory::desc biasMd = bias ? memory::desc({g.v[OC]}, dt::f32, tag::x) : memory::desc();
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, g.nhwc(g.src()), g.anyWeights(),
                                    biasMd, g.nhwc(g.dst()), g.strides(), g.dilates(), g.padL(), g.padR());
  dnnl::primitive_attr attr;
  if (act != 0) {
    dnnl::post_ops ops;
    if (act == 1) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    else ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
    attr.set_post_ops(ops);
  }
  return dnnl::convolution_forward::primitive_desc(d, attr, engine());
}

struct Entry {
  dnnl::primitive prim;
  memory::desc weights;      // the primitive's filter (or filter gradient) layout
  memory::desc userWeights;  // tfjs's
  bool reorder = false;
  dnnl::primitive toPrim;    // user → primitive layout (forward, backward data)
  dnnl::primitive toUser;    // primitive → user layout (backward weights)
  std::unique_ptr<memory> scratchWeights;
};

std::unordered_map<std::string, std::unique_ptr<Entry>> cache;

Entry& entry(const Geometry& g, char kind) {
  const std::string key = g.key(kind);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto e = std::make_unique<Entry>();
  e->userWeights = g.userWeights();
  const bool bias = g.v[BIAS] >= 0;
  auto fwd = forwardDesc(g, kind == 'f' && bias, kind == 'f' ? static_cast<int>(g.v[ACT]) : 0);
  if (kind == 'f') {
    e->prim = dnnl::convolution_forward(fwd);
    e->weights = fwd.weights_desc();
  } else if (kind == 'd') {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, g.nhwc(g.src()), g.anyWeights(), g.nhwc(g.dst()),
                                            g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_data::primitive_desc pd(d, engine(), fwd);
    e->prim = dnnl::convolution_backward_data(pd);
    e->weights = pd.weights_desc();
  } else {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, g.nhwc(g.src()), g.anyWeights(), g.nhwc(g.dst()),
                                               g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), fwd);
    e->prim = dnnl::convolution_backward_weights(pd);
    e->weights = pd.diff_weights_desc();
  }
  e->reorder = e->weights != e->userWeights;
  if (e->reorder) {
    e->scratchWeights = std::make_unique<memory>(e->weights, engine());
    if (kind == 'w') e->toUser = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), e->weights, engine(), e->userWeights));
    else e->toPrim = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), e->userWeights, engine(), e->weights));
  }
  Entry& ref = *e;
  cache.emplace(key, std::move(e));
  return ref;
}

void run(char kind, const Geometry& g, void* a, void* b, void* c, void* bias) {
  Entry& e = entry(g, kind);
  auto& s = stream();
  memory src(g.nhwc(kind == 'd' ? g.dst() : g.src()), engine(), a);
  if (kind == 'f' || kind == 'd') {
    memory user(e.userWeights, engine(), b);
    memory w = user;
    if (e.reorder) {
      e.toPrim.execute(s, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *e.scratchWeights}});
      w = *e.scratchWeights;
    }
    if (kind == 'f') {
      memory dst(g.nhwc(g.dst()), engine(), c);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
      if (bias) args.emplace(DNNL_ARG_BIAS, memory(memory::desc({g.v[OC]}, dt::f32, tag::x), engine(), bias));
      e.prim.execute(s, args);
    } else {
      memory diffSrc(g.nhwc(g.src()), engine(), c);
      e.prim.execute(s, {{DNNL_ARG_DIFF_DST, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, diffSrc}});
    }
  } else {
    memory diffDst(g.nhwc(g.dst()), engine(), b);
    memory user(e.userWeights, engine(), c);
    memory dw = e.reorder ? *e.scratchWeights : user;
    e.prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
    if (e.reorder) e.toUser.execute(s, {{DNNL_ARG_FROM, dw}, {DNNL_ARG_TO, user}});
  }
}

// oneDNN 2.6.3's jit_1x1 backward-weights kernel (AVX2, NHWC) gets the filter gradient wrong for
// a strided 1x1 convolution whose stride leaves the last input rows unused (8x8 input, stride 2).
// A 1x1 convolution only reads the input at the strided positions: gather them (a strided
// reorder per image, a 1/(sh*sw) sized copy; oneDNN refuses a 4-D view whose images overlap in
// its bounding box) and run the stride-1 convolution on them.
struct Subsample {
  dnnl::primitive gather;
  memory::desc strided, dense;
  std::unique_ptr<memory> buffer;
};
std::unordered_map<std::string, std::unique_ptr<Subsample>> subsamples;

bool stridedPointwise(const Geometry& g) {
  return g.v[KH] == 1 && g.v[KW] == 1 && g.v[PT] == 0 && g.v[PL] == 0 &&
         ((g.v[IH] - 1) % g.v[SH] != 0 || (g.v[IW] - 1) % g.v[SW] != 0);
}

void runWeights(const Geometry& g, void* x, void* dy, void* dw) {
  if (!stridedPointwise(g)) return run('w', g, x, dy, dw, nullptr);
  Geometry h = g;
  h.v[IH] = g.v[OH];
  h.v[IW] = g.v[OW];
  h.v[SH] = h.v[SW] = 1;
  h.v[PB] = h.v[PR] = 0;
  const std::string key = g.key('s');
  auto it = subsamples.find(key);
  const int64_t c = g.v[IC], oh = g.v[OH], ow = g.v[OW];
  if (it == subsamples.end()) {
    auto sub = std::make_unique<Subsample>();
    sub->strided = memory::desc({c, oh, ow}, dt::f32, memory::dims{1, g.v[SH] * g.v[IW] * c, g.v[SW] * c});
    sub->dense = memory::desc({c, oh, ow}, dt::f32, memory::dims{1, ow * c, c});
    sub->buffer = std::make_unique<memory>(h.nhwc(h.src()), engine());
    sub->gather = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), sub->strided, engine(), sub->dense));
    it = subsamples.emplace(key, std::move(sub)).first;
  }
  Subsample& sub = *it->second;
  float* dense = static_cast<float*>(sub.buffer->get_data_handle());
  for (int64_t n = 0; n < g.v[N]; n++) {
    memory from(sub.strided, engine(), static_cast<float*>(x) + n * g.v[IH] * g.v[IW] * c);
    memory to(sub.dense, engine(), dense + n * oh * ow * c);
    sub.gather.execute(stream(), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }
  run('w', h, dense, dy, dw, nullptr);
}

void run(char kind, float* heap, const Geometry& g) {
  auto at = [&](Arg a) { return static_cast<void*>(heap + g.v[a]); };
  if (kind == 'w') runWeights(g, at(A), at(B), at(C));
  else run(kind, g, at(A), at(B), at(C), kind == 'f' && g.v[BIAS] >= 0 ? at(BIAS) : nullptr);
  stream().wait();
}

// ---- Node-API glue ----

#define CHECK(call)                                         \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error(env, nullptr, "native-kernels: " #call);     \
      return nullptr;                                       \
    }                                                       \
  } while (0)

bool typedArray(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != napi_ok) return false;
  return type == want;
}

// Every call is (heap: Uint8Array, args: Float64Array). Reads both, or throws a TypeError naming
// `expected` (what args must be) and returns false; `argsOk` checks args' length (and contents).
bool heapAndArgs(napi_env env, napi_callback_info info, const std::string& expected, bool (*argsOk)(const double*, size_t, size_t),
                 size_t want, float** heap, const double** args) {
  size_t argc = 2;
  napi_value argv[2];
  void* h;
  void* a;
  size_t heapLength, nargs;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      !typedArray(env, argv[0], napi_uint8_array, &h, &heapLength) || !typedArray(env, argv[1], napi_float64_array, &a, &nargs) ||
      !argsOk(static_cast<const double*>(a), nargs, want)) {
    napi_throw_type_error(env, nullptr, ("native-kernels: expected (heap: Uint8Array, args: Float64Array " + expected + ")").c_str());
    return false;
  }
  *heap = static_cast<float*>(h);
  *args = static_cast<const double*>(a);
  return true;
}

bool exactly(const double*, size_t nargs, size_t want) { return nargs == want; }

template <char Kind>
napi_value conv(napi_env env, napi_callback_info info) {
  float* heap;
  const double* args;
  if (!heapAndArgs(env, info, "of 23", exactly, NARGS, &heap, &args)) return nullptr;
  Geometry g;
  for (int i = 0; i < NARGS; i++) g.v[i] = static_cast<int64_t>(args[i]);
  try {
    run(Kind, heap, g);
  } catch (const dnnl::error& e) {
    napi_throw_error(env, nullptr, (std::string("native-kernels: ") + e.what() + " (status " + std::to_string(e.status) + ")").c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("native-kernels: ") + e.what()).c_str());
  }
  return nullptr;
}

// The hand-written kernels (norm.cc, roi_align.cc, deform.cc, optim.cc, pool.cc): a fixed number of
// args, or as many as Ok accepts (RoIAlign: per level).
template <void (*Fn)(float*, const double*), size_t Nargs, bool (*Ok)(const double*, size_t, size_t) = exactly>
napi_value norm(napi_env env, napi_callback_info info) {
  float* heap;
  const double* args;
  const std::string expected = Ok == exactly ? "of " + std::to_string(Nargs) : "of " + std::to_string(Nargs) + " + the per-level slots";
  if (!heapAndArgs(env, info, expected, Ok, Nargs, &heap, &args)) return nullptr;
  try {
    Fn(heap, args);
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("native-kernels: ") + e.what()).c_str());
  }
  return nullptr;
}

// squaredNorm: args = [out, count, (offset, size) x count].
bool countedPairs(const double* args, size_t nargs, size_t) {
  return nargs >= SN_ARGS_MIN && nargs == SN_LIST + 2 * static_cast<size_t>(args[SN_COUNT]);
}

napi_value squaredNormCall(napi_env env, napi_callback_info info) {
  float* heap;
  const double* args;
  if (!heapAndArgs(env, info, "[out, count, (offset, size) x count]", countedPairs, 0, &heap, &args)) return nullptr;
  squaredNorm(heap, args);
  return nullptr;
}

napi_value setThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, nullptr, "native-kernels: setThreads expects a positive integer");
    return nullptr;
  }
  omp_set_num_threads(n);
  return nullptr;
}

napi_value threads(napi_env env, napi_callback_info) {
  napi_value out;
  CHECK(napi_create_int32(env, omp_get_max_threads(), &out));
  return out;
}

napi_value cachedPrimitives(napi_env env, napi_callback_info) {
  napi_value out;
  CHECK(napi_create_uint32(env, static_cast<uint32_t>(cache.size()), &out));
  return out;
}

napi_value init(napi_env env, napi_value exports) {
  const dnnl_version_t* v = dnnl_version();
  const std::string version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value versionValue;
  CHECK(napi_create_string_utf8(env, version.c_str(), version.size(), &versionValue));
  napi_property_descriptor props[] = {
      {"version", nullptr, nullptr, nullptr, nullptr, versionValue, napi_enumerable, nullptr},
      {"convForward", nullptr, conv<'f'>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"convBackwardData", nullptr, conv<'d'>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"convBackwardWeights", nullptr, conv<'w'>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"normForward", nullptr, norm<normForward, NF_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"normBackward", nullptr, norm<normBackward, NB_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"standardizeForward", nullptr, norm<standardizeForward, WF_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"standardizeBackward", nullptr, norm<standardizeBackward, WB_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sumMiddle", nullptr, norm<sumMiddle, S_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"roiAlignForward", nullptr, norm<roiAlignForward, RA_LEVEL0, roiAlignArgsOk>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"roiAlignBackward", nullptr, norm<roiAlignBackward, RA_LEVEL0, roiAlignArgsOk>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"deformSampleForward", nullptr, norm<deformSampleForward, DF_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"deformSampleInputGrad", nullptr, norm<deformSampleInputGrad, DF_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"deformSampleOffsetGrad", nullptr, norm<deformSampleOffsetGrad, DF_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"maxPoolGrad", nullptr, norm<maxPoolGrad, MP_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"adamwStep", nullptr, norm<adamwStep, AW_ARGS>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"squaredNorm", nullptr, squaredNormCall, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setThreads", nullptr, setThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"threads", nullptr, threads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"cachedPrimitives", nullptr, cachedPrimitives, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
