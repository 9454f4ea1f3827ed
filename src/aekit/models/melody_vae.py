"""`melody-vae`: a MusicVAE-style VAE of 2-bar melodies (token sequences, not images).

Roberts et al. 2018, "A Hierarchical Latent Vector Model for Learning Long-Term Structure in
Music" (https://arxiv.org/abs/1803.05428), its flat 2-bar model (Magenta's `cat-mel_2bar_small`):

    tokens (B, T) -> embedding -> bidirectional LSTM -> final states of both directions
                  -> Gaussian head -> q(z|x)                                        (encoder)
    z -> tanh(Linear(z)) = the LSTM's initial (h, c); z joins the input at every step;
    the input at step t is the token of step t-1 (a start token at t = 0) -> logits (decoder)

Training is teacher-forced with scheduled sampling (Bengio et al. 2015,
https://arxiv.org/abs/1506.03099): the previous token fed in is the true one with probability
p(step), else one drawn from the decoder's own prediction, so the decoder learns to continue
from its own mistakes as it must when it generates. The loss is MusicVAE's
    CE(summed over steps) + beta(step) * max(KL - free_nats, 0)       (mean over the batch)
with beta ramped linearly from 0 to max_beta and free nats ("free bits", Kingma et al. 2016,
https://arxiv.org/abs/1606.04934) counted over the whole code, as MusicVAE does. The step count
is a buffer (`steps_seen`), so a resumed run continues both ramps where it stopped.

Tokens are those of aekit.modalities.melody.tokens: 0 hold, 1 note-off, 2..89 MIDI 21..108.
Not a subclass of base.Autoencoder: that class assumes images (image_shape, a sigmoid decoder,
pixel losses); this family implements the same interface (DESIGN.md) for token sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aekit.core.outputs import AEOutput, LossOutput
from aekit.core.posterior import DiagonalGaussian
from aekit.errors import AekitError
from aekit.models.base import MAX_LAYERS, MAX_SIZE
from aekit.models.variational import GaussianHead

SCHEDULES = ("constant", "inverse_sigmoid")


@dataclass
class MelodyVAEConfig:
    """The defaults are a CPU model: ~0.56M parameters, ~0.7-0.9 s per step at batch 256 on
    one thread of this shared 2-core machine (benchmarks/melody_vae_step.py; batch 128 ~0.45 s,
    512 ~1.6 s: 256 is the cheapest per window that still gives 130 steps per epoch), so the
    `cpu` preset's 30 epochs over ~34k folk windows take about an hour. Scheduled sampling
    costs little here: fully step by step, a step took ~1.0 s. The LSTMs are the whole cost,
    so their widths were halved from magenta-small (4.4M parameters, ~15 s per step at batch
    512) until an hour bought some 4,000 steps. Measured since on the real corpus: ~750
    windows/s, ~45 s per epoch on one thread, so the `cpu` preset's 60 epochs (~8,000 steps)
    took 45 minutes. `magenta-small` (specs.py) is the paper's model.
    """

    vocab_size: int = 90  # token classes; the melody data tells the config (tokens.VOCAB)
    seq_len: int = 32  # steps per window: 2 bars of 16th notes
    embed_dim: int = 32  # a 90-way token needs few dimensions; MusicVAE feeds one-hots (90)
    enc_hidden: int = 128  # per direction (magenta-small: 512)
    enc_layers: int = 1
    dec_hidden: int = 256  # magenta-small's width: the decoder does the generating
    dec_layers: int = 1  # magenta-small: 2; one layer halves the decoder's cost
    latent_dim: int = 32  # magenta-small: 256; a 2-bar melody needs far fewer dimensions
    max_beta: float = 0.2  # KL weight after the ramp: magenta-small's, keeps the code used
    beta_warmup_steps: int = 1000  # linear 0 -> max_beta over the `cpu` run's first quarter
    # KL below this (nats, whole code) is free. 48 is MusicVAE's cat-mel_2bar_big setting; here
    # measured on folk-melodies (benchmarks/melody_vae.py, cpu preset's 30 epochs): free-running
    # accuracy 0.794 at 0 nats (KL settles at ~25) vs 0.832 at 48 (KL ~48); samples stay in key
    # (0.963 vs 0.946). 60 epochs at 48: 0.916. magenta-small: 0.
    free_nats: float = 48.0
    # p(teacher forcing): "constant" = 1 - sampling_rate (MusicVAE's convention: the rate is
    # the probability of *sampling*); "inverse_sigmoid" = k / (k + exp(step / k)), k = the rate
    sampling_schedule: str = "inverse_sigmoid"
    sampling_rate: float = 400.0  # k: half the inputs are the model's own at k ln k = 2397
    dropout: float = 0.1  # on the decoder's LSTM outputs (and between stacked layers)

    def __post_init__(self) -> None:
        check_int("vocab_size", self.vocab_size, 2, MAX_SIZE)
        check_int("seq_len", self.seq_len, 1, MAX_SEQ_LEN)
        for name in ("embed_dim", "enc_hidden", "dec_hidden", "latent_dim"):
            check_int(name, getattr(self, name), 1, MAX_SIZE)
        check_int("enc_layers", self.enc_layers, 1, MAX_LAYERS)
        check_int("dec_layers", self.dec_layers, 1, MAX_LAYERS)
        check_int("beta_warmup_steps", self.beta_warmup_steps, 0, 1 << 62)
        check_number("max_beta", self.max_beta, 0.0, math.inf)
        check_number("free_nats", self.free_nats, 0.0, math.inf)
        check_number("dropout", self.dropout, 0.0, 1.0, top_open=True)
        if self.sampling_schedule not in SCHEDULES:
            raise AekitError(
                f"sampling_schedule must be one of {', '.join(SCHEDULES)}, "
                f"got {self.sampling_schedule!r}"
            )
        if self.sampling_schedule == "constant":
            check_number("sampling_rate", self.sampling_rate, 0.0, 1.0, what="(constant: p)")
        else:
            check_number("sampling_rate", self.sampling_rate, 1.0, math.inf, what="(k)")


# A window is decoded step by step in Python; far longer sequences belong to a hierarchical
# decoder (MusicVAE's 16-bar models), not this one.
MAX_SEQ_LEN = 4096


def check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise AekitError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")


def check_number(
    name: str, value: Any, lo: float, hi: float, *, top_open: bool = False, what: str = ""
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and lo <= value and (value < hi if top_open else value <= hi)
    if not ok:
        top = f"{hi})" if top_open else ("" if math.isinf(hi) else f"{hi}]")
        span = f"in [{lo}, {top}" if top else f">= {lo}"
        extra = f" {what}" if what else ""
        raise AekitError(f"{name}{extra} must be a finite number {span}, got {value!r}")


def draw_tokens(logits: torch.Tensor, uniform: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, V) logits, (B,) uniforms in [0, 1) -> (B,) tokens drawn from softmax(logits / t) by
    inverting the CDF; temperature 0 is argmax. The uniforms are drawn by the caller, where its
    generator lives, so one code path serves every device and reproduces exactly."""
    if temperature == 0:
        return logits.argmax(-1)
    cdf = torch.softmax(logits.float() / temperature, dim=-1).cumsum(-1)  # (B, V)
    token = (cdf < uniform.to(cdf.device, cdf.dtype).unsqueeze(-1)).sum(-1)
    return token.clamp(max=logits.shape[-1] - 1)  # cdf[-1] can round to just below 1


class MelodyVAE(nn.Module):
    def __init__(self, config: MelodyVAEConfig) -> None:
        super().__init__()
        self.config = c = config
        self.start = c.vocab_size  # the decoder's input before the first step: an extra token
        self.enc_embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.encoder = nn.LSTM(
            c.embed_dim, c.enc_hidden, c.enc_layers, batch_first=True, bidirectional=True,
            dropout=c.dropout if c.enc_layers > 1 else 0.0,
        )  # fmt: skip
        self.head = GaussianHead(2 * c.enc_hidden, c.latent_dim)
        self.dec_embed = nn.Embedding(c.vocab_size + 1, c.embed_dim)
        self.init_state = nn.Linear(c.latent_dim, 2 * c.dec_layers * c.dec_hidden)
        self.decoder = nn.LSTM(
            c.embed_dim + c.latent_dim, c.dec_hidden, c.dec_layers, batch_first=True,
            dropout=c.dropout if c.dec_layers > 1 else 0.0,
        )  # fmt: skip
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(c.dec_hidden, c.vocab_size)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.int64))

    # -- shapes, as base.Autoencoder has them ---------------------------------------------------

    @property
    def output_shape(self) -> tuple[int]:
        """(T,): one token per step (decode's logits add the vocabulary as a last axis)."""
        return (self.config.seq_len,)

    @property
    def code_shape(self) -> tuple[int]:
        return (self.config.latent_dim,)

    @property
    def code_dim(self) -> int:
        return self.config.latent_dim

    # -- schedules ------------------------------------------------------------------------------

    def kl_weight(self, step: int | None = None) -> float:
        """beta at `step` (default: now): max_beta * min(1, step / beta_warmup_steps). Linear,
        as the image VAEs' warm-up; MusicVAE's exponential 1 - rate**step never quite arrives."""
        step = int(self.steps_seen) if step is None else step
        warmup = self.config.beta_warmup_steps
        return self.config.max_beta * (1.0 if warmup == 0 else min(1.0, step / warmup))

    def teacher_forcing(self, step: int | None = None) -> float:
        """p(the true previous token is fed in) at training step `step` (default: now)."""
        c = self.config
        step = int(self.steps_seen) if step is None else step
        if c.sampling_schedule == "constant":
            return 1.0 - c.sampling_rate
        k = c.sampling_rate
        return k / (k + math.exp(min(step / k, 700.0)))  # exp(700) is near float's limit

    # -- encoder --------------------------------------------------------------------------------

    def check_tokens(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.dtype.is_floating_point or x.dtype == torch.bool:
            raise AekitError(
                f"melody-vae takes (batch, {self.config.seq_len}) integer tokens, "
                f"got {x.dtype} {tuple(x.shape)}"
            )
        return x.long()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        x = self.check_tokens(x)
        _, (h, _) = self.encoder(self.enc_embed(x))  # h: (layers * 2, B, H)
        return self.head(torch.cat([h[-2], h[-1]], dim=-1))  # last layer, both ways: (B, 2H)

    # -- decoder --------------------------------------------------------------------------------

    def initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        s = torch.tanh(self.init_state(z)).view(z.shape[0], 2, c.dec_layers, c.dec_hidden)
        return s[:, 0].transpose(0, 1).contiguous(), s[:, 1].transpose(0, 1).contiguous()

    def run(self, tokens: torch.Tensor, z: torch.Tensor, state):
        """Decoder over input tokens (B, t), z joining every step -> logits (B, t, V), state."""
        steps = z.unsqueeze(1).expand(-1, tokens.shape[1], -1)  # (B, t, Z)
        inputs = torch.cat([self.dec_embed(tokens), steps], dim=-1)  # (B, t, E + Z)
        h, state = self.decoder(inputs, state)  # (B, t, H)
        return self.out(self.drop(h)), state

    def teacher_forced(self, target: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(B, T, V) logits given the true previous tokens; in training each is replaced by one
        drawn from the decoder's own prediction with probability 1 - teacher_forcing()."""
        b, t = target.shape
        start = torch.full((b, 1), self.start, dtype=torch.long, device=target.device)
        previous = torch.cat([start, target[:, :-1]], dim=1)  # (B, T): input of each step
        state = self.initial_state(z)
        p = self.teacher_forcing() if self.training else 1.0
        if p >= 1.0:
            return self.run(previous, z, state)[0]  # one LSTM call over the whole window
        # Which inputs are the model's own: drawn from torch's global RNG on the model's device,
        # which the trainer reseeds and checkpoints, so a resumed run draws the same.
        own = torch.rand(b, t, device=target.device) >= p  # (B, T)
        own[:, 0] = False  # nothing is predicted before the start token
        # The LSTM runs in one call between columns where some row takes its own token, step by
        # step only where every column has one: exact scheduled sampling, fast while p is high.
        columns = own.any(dim=0).nonzero().flatten().tolist()  # one device sync per step
        pieces, begin, first = [], 0, previous[:, :1]
        for col in [*columns, t]:
            chunk = torch.cat([first, previous[:, begin + 1 : col]], dim=1)  # (B, col - begin)
            logits, state = self.run(chunk, z, state)
            pieces.append(logits)
            if col == t:
                break
            u = torch.rand(b, device=target.device)
            drawn = draw_tokens(logits[:, -1].detach(), u, 1.0)  # MusicVAE samples, not argmax
            first = torch.where(own[:, col], drawn, previous[:, col]).unsqueeze(1)
            begin = col
        return torch.cat(pieces, dim=1)  # (B, T, V)

    def free_running(self, z: torch.Tensor, pick) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate from z one step at a time, feeding back pick(logits) -> (B, T, V), (B, T)."""
        b = z.shape[0]
        token = torch.full((b, 1), self.start, dtype=torch.long, device=z.device)
        state = self.initial_state(z)
        logits, tokens = [], []
        for _ in range(self.config.seq_len):
            step, state = self.run(token, z, state)  # (B, 1, V)
            token = pick(step[:, 0]).unsqueeze(1)
            logits.append(step)
            tokens.append(token)
        return torch.cat(logits, dim=1), torch.cat(tokens, dim=1)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Greedy free-running decoding: (B, T, V) logits, each step fed the previous argmax."""
        return self.free_running(z, lambda logits: logits.argmax(-1))[0]

    def generate(
        self, z: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """(B, T) long tokens from codes z: each step drawn from softmax(logits / temperature)
        (0 = greedy), with uniforms from `generator` (its device) or torch's global RNG."""
        if not (isinstance(temperature, int | float) and 0 <= temperature < math.inf):
            raise AekitError(f"temperature must be a finite number >= 0, got {temperature!r}")
        device = generator.device if generator is not None else z.device

        def pick(logits: torch.Tensor) -> torch.Tensor:
            if temperature == 0:
                return logits.argmax(-1)
            u = torch.rand(logits.shape[0], generator=generator, device=device)
            return draw_tokens(logits, u, temperature)

        return self.free_running(z, pick)[1]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """n melodies from z ~ N(0, I), the prior: (n, T) long tokens. Draws are made on the
        generator's device (or the model's, from torch's global RNG) and moved to the model's."""
        if y is not None:
            raise AekitError(f"{type(self).__name__} is not conditional: it takes no label")
        here = self.out.weight.device
        device = generator.device if generator is not None else here
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device).to(here)
        return self.generate(z, temperature, generator)

    # -- the trainer's contract -----------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
        """Teacher-forced reconstruction of x. recon holds softmax probabilities (B, T, V), in
        [0, 1] as every model's recon is; logits (B, T, V) are what the loss uses."""
        x = self.check_tokens(x)
        posterior = self.encode(x)
        z = posterior.sample() if self.training else posterior.mode()
        logits = self.teacher_forced(x, z)
        return AEOutput(recon=torch.softmax(logits, -1), z=z, posterior=posterior, logits=logits)

    def loss(self, out: AEOutput, target: torch.Tensor) -> LossOutput:
        """CE summed over steps + beta * max(KL - free_nats, 0), means over the batch, in fp32;
        parts: recon, kl (before free nats), elbo, acc (argmax = target, over every step)."""
        logits = out.logits.float()  # (B, T, V)
        target = self.check_tokens(target)
        ce = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (B, T)
        recon = ce.sum(dim=1).mean()
        kl = out.posterior.kl()  # (B,) nats over the code, fp32
        kl_cost = (kl - self.config.free_nats).clamp(min=0.0).mean()
        weight = self.kl_weight()
        if self.training:
            self.steps_seen += 1
        acc = (logits.argmax(-1) == target).float().mean()
        kl = kl.mean()
        return LossOutput(
            loss=recon + weight * kl_cost,
            parts={
                "recon": recon.detach(),
                "kl": kl.detach(),
                "elbo": -(recon + kl).detach(),
                "acc": acc.detach(),
            },
        )
