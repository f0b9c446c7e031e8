"""Translator ``unit``: UNIT (Liu et al. 2017), after mingyuliutw/UNIT ``networks.py`` (``VAEGen``, ``MsImageDis``)
and its 256-pixel configuration.

Per domain a VAE generator: encoder = 7x7 conv 64 (instance norm, ReLU, reflect padding), two stride-2 4x4 convs to
256, 4 residual blocks; decoder = 4 residual blocks, two (nearest x2 upsampling + 5x5 conv + layer norm), 7x7 conv,
tanh. The latent is z = h + N(0, I) and its KL term is mean(h^2). Multi-scale discriminators (3 scales, 4 layers from
64 channels, LeakyReLU 0.2, average-pool downsampling). Loss weights: gan 1, recon_x 10, kl 0.01, cycle 10,
kl_cycle 0.01. Adam betas (0.5, 0.999) and weight decay 1e-4 as in the reference configuration; learning rate from
the preset (the paper's 1e-4). The adversarial form follows ``gan_mode`` like the other translators.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cmedl_bench.plugin import Translator, TranslatorSpec, adam, gan_loss

WEIGHTS = {"gan": 1.0, "recon_x": 10.0, "kl": 0.01, "cycle": 10.0, "kl_cycle": 0.01}


class LayerNorm(nn.Module):
    """Layer norm over (C, H, W) per sample with per-channel affine parameters (the UNIT reference's LayerNorm)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.rand(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1).view(-1, 1, 1, 1)
        x = (x - mean) / (std + self.eps)
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def conv_block(cin: int, cout: int, kernel: int, stride: int, padding: int, norm: str = "in",
               activation: str = "relu") -> nn.Sequential:
    layers: list[nn.Module] = [nn.ReflectionPad2d(padding), nn.Conv2d(cin, cout, kernel, stride)]
    if norm == "in":
        layers.append(nn.InstanceNorm2d(cout))
    elif norm == "ln":
        layers.append(LayerNorm(cout))
    layers.append({"relu": nn.ReLU(True), "lrelu": nn.LeakyReLU(0.2, True), "tanh": nn.Tanh(),
                   "none": nn.Identity()}[activation])
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_block(channels, channels, 3, 1, 1),
                                  conv_block(channels, channels, 3, 1, 1, activation="none"))

    def forward(self, x):
        return x + self.body(x)


class VAEGenerator(nn.Module):
    def __init__(self, channels: int = 1, width: float = 1.0, n_res: int = 4):
        super().__init__()
        dim = max(4, round(64 * width))
        enc: list[nn.Module] = [conv_block(channels, dim, 7, 1, 3)]
        for _ in range(2):
            enc.append(conv_block(dim, 2 * dim, 4, 2, 1))
            dim *= 2
        enc += [ResBlock(dim) for _ in range(n_res)]
        dec: list[nn.Module] = [ResBlock(dim) for _ in range(n_res)]
        for _ in range(2):
            dec += [nn.Upsample(scale_factor=2), conv_block(dim, dim // 2, 5, 1, 2, norm="ln")]
            dim //= 2
        dec.append(conv_block(dim, channels, 7, 1, 3, norm="none", activation="tanh"))
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, h: torch.Tensor, noisy: bool) -> torch.Tensor:
        return self.decoder(h + torch.randn_like(h) if noisy else h)


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, channels: int = 1, width: float = 1.0, n_layers: int = 4, scales: int = 3):
        super().__init__()
        self.nets = nn.ModuleList()
        self.min_size = 2 ** (n_layers + 1)
        for _ in range(scales):
            dim = max(4, round(64 * width))
            layers: list[nn.Module] = [conv_block(channels, dim, 4, 2, 1, norm="none", activation="lrelu")]
            for _ in range(n_layers - 1):
                layers.append(conv_block(dim, 2 * dim, 4, 2, 1, norm="none", activation="lrelu"))
                dim *= 2
            layers.append(nn.Conv2d(dim, 1, 1))
            self.nets.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One output map per scale; scales whose input is too small for the stride-2 stack (small CPU-preset
        crops) are skipped, the first scale always runs."""
        outputs = []
        for k, net in enumerate(self.nets):
            if k and min(x.shape[-2:]) < self.min_size:
                break
            outputs.append(net(x))
            x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return outputs


def _kl(h: torch.Tensor) -> torch.Tensor:
    return (h**2).mean()


class UNIT(Translator):
    def __init__(self, spec: TranslatorSpec):
        super().__init__(spec)
        self.gen_c = VAEGenerator(1, spec.width).to(self.device)
        self.gen_m = VAEGenerator(1, spec.width).to(self.device)
        self.dis_c = MultiScaleDiscriminator(1, spec.width).to(self.device)
        self.dis_m = MultiScaleDiscriminator(1, spec.width).to(self.device)
        kwargs = {"lr": spec.lr, "betas": (0.5, 0.999), "weight_decay": 1e-4}
        self._optimizers = {
            "generators": adam([*self.gen_c.parameters(), *self.gen_m.parameters()], device=self.device, **kwargs),
            "discriminators": adam([*self.dis_c.parameters(), *self.dis_m.parameters()], device=self.device,
                                   **kwargs),
        } if spec.training else {}

    def modules(self):
        return {"gen_c": self.gen_c, "gen_m": self.gen_m, "dis_c": self.dis_c, "dis_m": self.dis_m}

    def optimizers(self):
        return self._optimizers

    def _adversarial(self, discriminator, image, real: bool) -> torch.Tensor:
        return sum(gan_loss(out, real, self.gan_mode) for out in discriminator(image))

    def generator_objective(self, cbct, mri):
        self.set_requires_grad(("dis_c", "dis_m"), False)
        h_c, h_m = self.gen_c.encode(cbct), self.gen_m.encode(mri)
        recon_c, recon_m = self.gen_c.decode(h_c, True), self.gen_m.decode(h_m, True)
        pmri, pcbct = self.gen_m.decode(h_c, True), self.gen_c.decode(h_m, True)
        h_c_again, h_m_again = self.gen_m.encode(pmri), self.gen_c.encode(pcbct)
        cycle_c, cycle_m = self.gen_c.decode(h_c_again, True), self.gen_m.decode(h_m_again, True)
        parts = {
            "gan": self._adversarial(self.dis_m, pmri, True) + self._adversarial(self.dis_c, pcbct, True),
            "recon_x": F.l1_loss(recon_c, cbct) + F.l1_loss(recon_m, mri),
            "kl": _kl(h_c) + _kl(h_m),
            "cycle": F.l1_loss(cycle_c, cbct) + F.l1_loss(cycle_m, mri),
            "kl_cycle": _kl(h_c_again) + _kl(h_m_again),
        }
        total = sum(WEIGHTS[k] * v for k, v in parts.items())
        self.set_requires_grad(("dis_c", "dis_m"), True)
        return total, {k: v.detach() for k, v in parts.items()}, {"pmri": pmri, "pcbct": pcbct}

    def discriminator_step(self, cbct, mri, images):
        opt = self._optimizers["discriminators"]
        opt.zero_grad(set_to_none=True)
        loss_m = self._adversarial(self.dis_m, mri, True) + self._adversarial(self.dis_m, images["pmri"].detach(), False)
        loss_c = (self._adversarial(self.dis_c, cbct, True)
                  + self._adversarial(self.dis_c, images["pcbct"].detach(), False))
        (WEIGHTS["gan"] * (loss_m + loss_c)).backward()
        opt.step()
        return {"d_m": loss_m.detach(), "d_c": loss_c.detach()}

    def to_mri(self, cbct):
        """Deterministic at test time: decode the latent mean (the reference's ``x_ab = gen_b.decode(h_a)``)."""
        return self.gen_m.decode(self.gen_c.encode(cbct), noisy=self.gen_c.training)

    def to_cbct(self, mri):
        return self.gen_c.decode(self.gen_m.encode(mri), noisy=self.gen_m.training)


def build(spec: TranslatorSpec) -> UNIT:
    return UNIT(spec)
