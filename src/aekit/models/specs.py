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

FAMILIES = (AE, CONV_AE, SR, VAE, CONV_VAE, CVAE, AAE)
for _spec in FAMILIES:
    register(_spec)
