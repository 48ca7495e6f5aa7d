// The CPU launcher of vtrain's CUDA kernels: the same source as the PTX,
// run block by block, each block's threads as OS threads (kernels that
// synchronise) or one after another (kernels that do not).
#include "emu.h"

#include <barrier>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

dim3 blockIdx, blockDim, gridDim;
thread_local dim3 threadIdx;
static std::barrier<>* block_barrier = nullptr;

void vt_emu_syncthreads() {
  if (block_barrier == nullptr) {
    std::fprintf(stderr, "vtrain emu: __syncthreads in a kernel listed as not synchronising\n");
    std::abort();
  }
  block_barrier->arrive_and_wait();
}

#include "../kernels/repops.cuh"
#include "../kernels/elementwise.cu"
#include "../kernels/gemm.cu"
#include "../kernels/conv.cu"
#include "../kernels/norm.cu"
#include "../kernels/attention.cu"
#include "../kernels/qualify.cu"

namespace {

// Calls kernel `k` with its arguments read from `params[i]` (each a pointer
// to the argument's value, as cuLaunchKernel takes them).
template <typename... A, std::size_t... I>
void call_with(void (*k)(A...), void** params, std::index_sequence<I...>) {
  k(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
}


template <typename... A>
constexpr std::size_t arity(void (*)(A...)) {
  return sizeof...(A);
}

struct Entry {
  const char* name;
  std::size_t arity;
  bool synchronises;
  void (*run)(void** params);
};

#define VT_ENTRY(kernel, synchronises)                                                    \
  Entry {                                                                                 \
    #kernel, arity(kernel), synchronises, [](void** params) {                             \
      call_with(kernel, params, std::make_index_sequence<arity(kernel)>{});               \
    }                                                                                     \
  }

const Entry entries[] = {
    VT_ENTRY(vtk_gather, false),
    VT_ENTRY(vtk_relu, false),
    VT_ENTRY(vtk_relu_grad, false),
    VT_ENTRY(vtk_add, false),
    VT_ENTRY(vtk_log_softmax, false),
    VT_ENTRY(vtk_xent_grad, false),
    VT_ENTRY(vtk_bias_grad, false),
    VT_ENTRY(vtk_sgd_velocity, false),
    VT_ENTRY(vtk_sgd_weight, false),
    VT_ENTRY(vtk_adam_first_moment, false),
    VT_ENTRY(vtk_adam_second_moment, false),
    VT_ENTRY(vtk_adam_weight, false),
    VT_ENTRY(vtk_gemm, true),
#include "entries_conv.inc"
#include "entries_norm.inc"
#include "entries_attention.inc"
    VT_ENTRY(vtk_primitive, false),
};

std::mutex launch_lock;

}  // namespace

// Runs kernel `name` over the grid: 0 on success, 1 for an unknown kernel,
// 2 for a wrong number of parameters.
extern "C" int vt_emu_launch(const char* name, const unsigned int grid[3],
                             const unsigned int block[3], void** params,
                             std::size_t param_count) {
  const Entry* entry = nullptr;
  for (const Entry& candidate : entries)
    if (std::strcmp(candidate.name, name) == 0) entry = &candidate;
  if (entry == nullptr) return 1;
  if (entry->arity != param_count) return 2;

  std::lock_guard<std::mutex> guard(launch_lock);
  gridDim = dim3{grid[0], grid[1], grid[2]};
  blockDim = dim3{block[0], block[1], block[2]};
  const std::size_t threads = std::size_t(block[0]) * block[1] * block[2];
  for (unsigned bz = 0; bz < grid[2]; ++bz)
    for (unsigned by = 0; by < grid[1]; ++by)
      for (unsigned bx = 0; bx < grid[0]; ++bx) {
        blockIdx = dim3{bx, by, bz};
        auto thread_at = [&](std::size_t t) {
          threadIdx = dim3{unsigned(t % block[0]), unsigned(t / block[0] % block[1]),
                           unsigned(t / (std::size_t(block[0]) * block[1]))};
          entry->run(params);
        };
        if (!entry->synchronises) {
          for (std::size_t t = 0; t < threads; ++t) thread_at(t);
          continue;
        }
        std::barrier<> barrier(static_cast<std::ptrdiff_t>(threads));
        block_barrier = &barrier;
        std::vector<std::thread> workers;
        workers.reserve(threads);
        for (std::size_t t = 0; t < threads; ++t) workers.emplace_back(thread_at, t);
        for (std::thread& worker : workers) worker.join();
        block_barrier = nullptr;
      }
  return 0;
}

// The names of the kernels the emulator runs, for the tests that hold the
// list equal to the Rust side's.
extern "C" std::size_t vt_emu_kernel_count() { return sizeof(entries) / sizeof(entries[0]); }
extern "C" const char* vt_emu_kernel_name(std::size_t i) {
  return i < vt_emu_kernel_count() ? entries[i].name : nullptr;
}
