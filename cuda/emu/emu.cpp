// The CPU launcher of vtrain's CUDA kernels: the same source as the PTX,
// run block by block, each block's threads as fibers (kernels that
// synchronise) or one after another (kernels that do not).
#include "emu.h"

#include <ucontext.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

dim3 blockIdx, blockDim, gridDim;
thread_local dim3 threadIdx;
void vt_emu_yield();

void vt_emu_syncthreads() { vt_emu_yield(); }

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

// A parameter's kind as the Rust side declares it (`Param`): 0 a pointer,
// 1 a 32-bit unsigned integer, 2 a 32-bit float. The GPU reads exactly the
// declared type's bytes, so a kernel whose C signature disagrees with the
// dispatch would read garbage there; the emulator refuses the launch.
template <typename T>
constexpr unsigned kind_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_pointer_v<U>) return 0;
  else if constexpr (std::is_same_v<U, unsigned int>) return 1;
  else if constexpr (std::is_same_v<U, float>) return 2;
  else return 99;  // no Rust `Param` has this type
}

template <typename... A>
bool kinds_match(void (*)(A...), const unsigned* kinds) {
  const unsigned declared[] = {kind_of<A>()..., 0u};
  for (std::size_t i = 0; i < sizeof...(A); ++i)
    if (declared[i] != kinds[i]) return false;
  return true;
}

struct Entry {
  const char* name;
  std::size_t arity;
  bool synchronises;
  void (*run)(void** params);
  bool (*accepts)(const unsigned* kinds);
};

#define VT_ENTRY(kernel, synchronises)                                                    \
  Entry {                                                                                 \
    #kernel, arity(kernel), synchronises,                                                 \
        [](void** params) {                                                               \
          call_with(kernel, params, std::make_index_sequence<arity(kernel)>{});           \
        },                                                                                \
        [](const unsigned* kinds) { return kinds_match(kernel, kinds); }                  \
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

// The threads of a block of a synchronising kernel, as fibers on the
// launching thread: each runs until its next __syncthreads (or its end) and
// yields, and one round over the fibers is one phase between barriers, as
// CUDA requires every thread of a block to reach each barrier. Deterministic
// and cheap (a context switch, not an OS thread's wake-up per barrier).
class BlockFibers {
 public:
  // Runs `entry` over the `threads` threads of the current block (blockIdx,
  // blockDim and gridDim are set by the caller).
  void run_block(const Entry* entry, void** params, std::size_t threads) {
    if (fibers_.size() < threads) fibers_.resize(threads);
    entry_ = entry;
    params_ = params;
    self_ = this;
    for (std::size_t t = 0; t < threads; ++t) {
      Fiber& fiber = fibers_[t];
      if (!fiber.stack) fiber.stack.reset(new char[kStack]);
      getcontext(&fiber.context);
      fiber.context.uc_stack.ss_sp = fiber.stack.get();
      fiber.context.uc_stack.ss_size = kStack;
      fiber.context.uc_link = &scheduler_;
      makecontext(&fiber.context, reinterpret_cast<void (*)()>(&BlockFibers::start), 1,
                  static_cast<int>(t));
      fiber.done = false;
    }
    in_block = true;
    for (bool live = true; live;) {
      live = false;
      for (std::size_t t = 0; t < threads; ++t) {
        if (fibers_[t].done) continue;
        live = true;
        current_ = t;
        threadIdx = dim3{unsigned(t % blockDim.x), unsigned(t / blockDim.x % blockDim.y),
                         unsigned(t / (std::size_t(blockDim.x) * blockDim.y))};
        swapcontext(&scheduler_, &fibers_[t].context);
      }
    }
    in_block = false;
  }

  // __syncthreads: back to the scheduler until every thread has arrived.
  void yield() { swapcontext(&fibers_[current_].context, &scheduler_); }

  static bool in_block;

 private:
  static constexpr std::size_t kStack = 256 * 1024;

  struct Fiber {
    ucontext_t context{};
    std::unique_ptr<char[]> stack;
    bool done = true;
  };

  static void start(int t) {
    self_->entry_->run(self_->params_);
    self_->fibers_[static_cast<std::size_t>(t)].done = true;
    // Returning resumes uc_link, the scheduler.
  }

  static BlockFibers* self_;
  ucontext_t scheduler_{};
  std::vector<Fiber> fibers_;
  std::size_t current_ = 0;
  const Entry* entry_ = nullptr;
  void** params_ = nullptr;
};

BlockFibers* BlockFibers::self_ = nullptr;
bool BlockFibers::in_block = false;
BlockFibers block_fibers;

}  // namespace

void vt_emu_yield() {
  if (!BlockFibers::in_block) {
    std::fprintf(stderr, "vtrain emu: __syncthreads in a kernel listed as not synchronising\n");
    std::abort();
  }
  block_fibers.yield();
}

namespace {

}  // namespace

// Runs kernel `name` over the grid: 0 on success, 1 for an unknown kernel,
// 2 for a wrong number of parameters, 3 for a parameter of the wrong type,
// 4 for a grid or block past CUDA's limits.
extern "C" int vt_emu_launch(const char* name, const unsigned int grid[3],
                             const unsigned int block[3], void** params,
                             const unsigned* param_kinds, std::size_t param_count) {
  const Entry* entry = nullptr;
  for (const Entry& candidate : entries)
    if (std::strcmp(candidate.name, name) == 0) entry = &candidate;
  if (entry == nullptr) return 1;
  if (entry->arity != param_count) return 2;
  if (!entry->accepts(param_kinds)) return 3;
  // CUDA's launch limits (compute capability 8.0 and later): a launch the
  // GPU would refuse is refused here too.
  const unsigned long long block_threads =
      (unsigned long long)block[0] * block[1] * block[2];
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || grid[0] > 2147483647u ||
      grid[1] > 65535u || grid[2] > 65535u || block_threads == 0 || block_threads > 1024 ||
      block[0] > 1024 || block[1] > 1024 || block[2] > 64)
    return 4;

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
        block_fibers.run_block(entry, params, threads);
      }
  return 0;
}

// The names of the kernels the emulator runs, for the tests that hold the
// list equal to the Rust side's.
extern "C" std::size_t vt_emu_kernel_count() { return sizeof(entries) / sizeof(entries[0]); }
extern "C" const char* vt_emu_kernel_name(std::size_t i) {
  return i < vt_emu_kernel_count() ? entries[i].name : nullptr;
}
