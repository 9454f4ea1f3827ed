"""Where training runs: device, precision, threads, and the process group.

The seam (DESIGN.md "Runtime"): the trainer never names a device type or a process count; it
asks a `Runtime` (runtime.py) for

* `device`: where the model, its optimizer state and each batch live (device.py resolves
  `--device auto|cpu|cuda|cuda:N|mps` and refuses devices the machine lacks);
* `precision` and `autocast()`: bf16 autocast where that device multiplies bf16 natively
  (precision.py), resolved once per device type, so "auto" means the right thing everywhere;
* `rank`, `world_size`, `is_writer`: rank 0 of 1 (the writer) unless torchrun started several
  processes (distributed.py `process_group`: gloo on CPUs, NCCL on GPUs);
* `all_reduce_grads(params)`, called by `StepContext.update` (training/steps.py) between every
  backward pass and its clip and optimizer step -- including each phase of a model with several
  optimizers -- and `all_reduce_sums(tensor)` on the loss sums at each log point, and
  `barrier()`, `any_across(flag)`, `broadcast_buffers(module)`: no-ops with one process,
  torch.distributed's collectives in `DistributedRuntime`; the loop calls them where it must;
* `prepare_model(model)`: the model as this runtime trains it (SyncBatchNorm in place of
  BatchNorm with several CUDA processes); `row_draws(generator, rows)`: the scope of a step in
  which the model's per-row draws are made for the whole global batch and sliced, so they do
  not depend on the world size;
* `rng_states()` / `restore_rng_states()`: the global generators a checkpoint keeps (the CPU's
  always, CUDA's or MPS's when training there), so a run resumes on another device type.

Random draws in models and latent code go through `aekit.core.random.randn`: made on the
generator's device, then moved, so a CPU generator seeds the same numbers on any device.
"""

from aekit.runtime.device import resolve_device
from aekit.runtime.runtime import Runtime, cpu_runtime

__all__ = ["Runtime", "cpu_runtime", "resolve_device"]
