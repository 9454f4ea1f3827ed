"""Every model family's ModelSpec, in the order `aekit models` lists them.

The one place that names the families. Classes are named by "module:Name" and imported on first
use, so this module (and listing the models) never loads torch. Adding a family is its module
(classes and config) and one ModelSpec here.
"""

from aekit.core.spec import ModelSpec, register

AE = ModelSpec(
    name="ae",
    model="aekit.models.ae:AE",
    config="aekit.models.ae:AEConfig",
    description="fully connected autoencoder (flatten -> MLP -> code -> MLP)",
    tiny={"hidden": [32], "latent_dim": 4},
)

CONV_AE = ModelSpec(
    name="conv-ae",
    model="aekit.models.conv_ae:ConvAE",
    config="aekit.models.conv_ae:ConvAEConfig",
    description="convolutional autoencoder; arch=lesson is the lesson's 16-8-8 network",
    tiny={"channels": [8, 16], "latent_dim": 4},  # 4-wide ReLU layers can all die at init
    presets={"lesson": {"model.arch": "lesson"}},
    # A denoiser keeps detail a bottleneck throws away: skips and residual learning
    # (models/restore.py), a residual in pixel space trained on MSE; --arch, --preset lesson or
    # --set model.arch still choose another.
    task_presets={"denoise": {"model.arch": "unet", "model.loss": "mse"}},
)

SR = ModelSpec(
    name="sr",
    model="aekit.models.sr:SR",
    config="aekit.models.sr:SRConfig",
    description="super-resolution x2/x4 (sub-pixel convolution; arch=lesson: the lesson's net)",
    tiny={"width": 8, "depth": 3},
)

VAE = ModelSpec(
    name="vae",
    model="aekit.models.vae:VAE",
    config="aekit.models.vae:VAEConfig",
    description="variational autoencoder, fully connected (the lesson's 784-512-2)",
    tiny={"hidden": [32], "latent_dim": 4},
    variational=True,
    has_prior=True,
    presets={
        "lesson": {
            "model.latent_dim": 2,
            "model.hidden": [512],
            "train.optimizer": "rmsprop",
            "train.lr": 1e-3,
            "train.schedule": "constant",
            "train.batch_size": 100,
            "train.epochs": 50,
        },
    },  # fmt: skip
)

CONV_VAE = ModelSpec(
    name="conv-vae",
    model="aekit.models.vae:ConvVAE",
    config="aekit.models.vae:ConvVAEConfig",
    description="convolutional variational autoencoder (conv-ae's networks + a Gaussian head)",
    tiny={"channels": [8, 16], "latent_dim": 4},
    variational=True,
    has_prior=True,
)

CVAE = ModelSpec(
    name="cvae",
    model="aekit.models.vae:CVAE",
    config="aekit.models.vae:CVAEConfig",
    description="conditional convolutional VAE: encoder and decoder see the class label",
    tiny={"channels": [8, 16], "latent_dim": 4, "num_classes": 3},
    variational=True,
    has_prior=True,
    conditional=True,
)

AAE = ModelSpec(
    name="aae",
    model="aekit.models.aae:AAE",
    config="aekit.models.aae:AAEConfig",
    description="adversarial autoencoder: a discriminator matches the codes to N(0, I)",
    tiny={"channels": [8, 16], "latent_dim": 4, "disc_hidden": [16]},
    has_prior=True,  # not variational: its codes are deterministic, matched to the prior
    own_training_step=True,  # three phases, three optimizers
)


def random_tokens(n: int, config, generator=None):
    """(n, seq_len) long tokens in [0, vocab_size): any token model's input (torch imported
    here, on first use, so that this module stays torch-free)."""
    import torch

    return torch.randint(0, config.vocab_size, (n, config.seq_len), generator=generator)


MELODY_TINY = {  # sized (with the tiny preset's lr) to overfit 64 windows in 200-350 steps
    "embed_dim": 16, "enc_hidden": 32, "dec_hidden": 128, "dec_layers": 1, "latent_dim": 4,
    "max_beta": 0.05, "beta_warmup_steps": 100, "sampling_schedule": "constant",
    "sampling_rate": 0.0, "dropout": 0.0, "free_nats": 0.0,
}  # fmt: skip

MELODY_VAE = ModelSpec(
    name="melody-vae",
    model="aekit.models.melody_vae:MelodyVAE",
    config="aekit.models.melody_vae:MelodyVAEConfig",
    description="MusicVAE-style melody VAE: BiLSTM encoder, LSTM decoder, scheduled sampling",
    tiny=MELODY_TINY,
    modality="melody",
    variational=True,
    has_prior=True,
    make_inputs=random_tokens,
    presets={
        # tests: teacher forcing only; overfits 64 windows in a few hundred full-batch steps
        "tiny": {
            **{f"model.{k}": v for k, v in MELODY_TINY.items()},
            "train.batch_size": 64,
            "train.lr": 2e-2,
            "train.grad_clip": 1.0,
            "train.schedule": "constant",
        },
        # the defaults, with the training they were sized for: 60 epochs, ~45 minutes on one
        # thread (30 epochs left free-running accuracy at 0.832, 60 reached 0.916: the cosine
        # schedule's second half is where it learns to use its 48 free nats)
        "cpu": {
            "train.batch_size": 256,
            "train.lr": 1e-3,
            "train.grad_clip": 1.0,
            "train.epochs": 60,
        },
        # Magenta's cat-mel_2bar_small (magenta/models/music_vae/configs.py, and lstm_models /
        # base_model get_default_hparams): z_size 256, enc_rnn_size [512], dec_rnn_size
        # [256, 256], free_bits 0, max_beta 0.2, beta_rate 0.99999, inverse_sigmoid sampling at
        # rate 1000, batch 512, Adam lr 1e-3 (decaying to 1e-5), grad_clip 1.0, no dropout.
        # MusicVAE feeds one-hot tokens (90 wide), so embed_dim 90; its beta ramp
        # 1 - 0.99999**step has time constant 100k steps, here a linear ramp of that length.
        "magenta-small": {
            "model.embed_dim": 90,
            "model.enc_hidden": 512,
            "model.enc_layers": 1,
            "model.dec_hidden": 256,
            "model.dec_layers": 2,
            "model.latent_dim": 256,
            "model.max_beta": 0.2,
            "model.beta_warmup_steps": 100_000,
            "model.free_nats": 0.0,
            "model.sampling_schedule": "inverse_sigmoid",
            "model.sampling_rate": 1000.0,
            "model.dropout": 0.0,
            "train.batch_size": 512,
            "train.lr": 1e-3,
            "train.grad_clip": 1.0,
        },
    },  # fmt: skip
)

FAMILIES = (AE, CONV_AE, SR, VAE, CONV_VAE, CVAE, AAE, MELODY_VAE)
for _spec in FAMILIES:
    register(_spec)
