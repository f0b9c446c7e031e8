"""Translators ``cycle`` (CycleGAN, paper eq. 1-2) and ``cx`` (CMEDL-CX: CycleGAN + contextual loss, eq. 3-4).

Generators G_C->M and G_M->C (ResNet-9), PatchGAN discriminators D_M and D_C, image pools of 50, Adam with the
paper's translator learning rate (1e-4) and the reference's betas (0.5, 0.999). Generator objective:
L_adv + 10 L_cyc (+ 1 L_CX for ``cx``, between VGG19 features of pMRI and real MRI). Discriminators: the reference's
0.5 (real + pooled fake). The identity loss of the CycleGAN reference is not used: the paper does not list it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cmedl_bench.plugin import ImagePool, Translator, TranslatorSpec, adam, gan_loss
from cmedl_bench_plugins.cyclegan_nets import PatchDiscriminator, ResnetGenerator

LAMBDA_CYCLE = 10.0
LAMBDA_CX = 1.0
BETAS = (0.5, 0.999)


class CycleGAN(Translator):
    def __init__(self, spec: TranslatorSpec, contextual: bool = False):
        super().__init__(spec)
        w = spec.width
        self.g_cm = ResnetGenerator(1, 1, w).to(self.device)
        self.g_mc = ResnetGenerator(1, 1, w).to(self.device)
        self.d_m = PatchDiscriminator(1, w).to(self.device)
        self.d_c = PatchDiscriminator(1, w).to(self.device)
        self._optimizers = {
            "generators": adam([*self.g_cm.parameters(), *self.g_mc.parameters()], spec.lr, self.device,
                               betas=BETAS),
            "discriminators": adam([*self.d_m.parameters(), *self.d_c.parameters()], spec.lr, self.device,
                                   betas=BETAS),
        } if spec.training else {}
        self.pool_m, self.pool_c = ImagePool(50, seed=1), ImagePool(50, seed=2)
        self.vgg = None
        if contextual and spec.training:  # the contextual loss's network serves training only
            from cmedl_bench_plugins.vgg19 import load_vgg19

            layers = tuple(spec.options.get("cx_layers") or ("conv7", "conv8", "conv9"))
            self.vgg, provenance = load_vgg19(layers, spec.options.get("vgg19"), spec.loss_network_width)
            self.vgg.to(self.device)
            self.info |= {"cx_features": provenance, "cx_layers": list(layers), "cx_width": spec.loss_network_width}

    def modules(self):
        return {"g_cm": self.g_cm, "g_mc": self.g_mc, "d_m": self.d_m, "d_c": self.d_c}

    def optimizers(self):
        return self._optimizers

    def generator_objective(self, cbct, mri):
        self.set_requires_grad(("d_m", "d_c"), False)
        pmri, pcbct = self.g_cm(cbct), self.g_mc(mri)
        adv = gan_loss(self.d_m(pmri), True, self.gan_mode) + gan_loss(self.d_c(pcbct), True, self.gan_mode)
        cyc = F.l1_loss(self.g_mc(pmri), cbct) + F.l1_loss(self.g_cm(pcbct), mri)
        total = adv + LAMBDA_CYCLE * cyc
        parts = {"adv": adv.detach(), "cyc": cyc.detach()}
        if self.vgg is not None:
            from cmedl_bench_plugins.contextual import contextual_loss

            with torch.no_grad():
                target = self.vgg(mri)
            cx = contextual_loss(self.vgg(pmri), target)
            total = total + LAMBDA_CX * cx
            parts["cx"] = cx.detach()
        self.set_requires_grad(("d_m", "d_c"), True)
        return total, parts, {"pmri": pmri, "pcbct": pcbct}

    def discriminator_step(self, cbct, mri, images):
        opt = self._optimizers["discriminators"]
        opt.zero_grad(set_to_none=True)
        fake_m, fake_c = self.pool_m.query(images["pmri"]), self.pool_c.query(images["pcbct"])
        loss_m = 0.5 * (gan_loss(self.d_m(mri), True, self.gan_mode) + gan_loss(self.d_m(fake_m), False, self.gan_mode))
        loss_c = 0.5 * (gan_loss(self.d_c(cbct), True, self.gan_mode)
                        + gan_loss(self.d_c(fake_c), False, self.gan_mode))
        (loss_m + loss_c).backward()
        opt.step()
        return {"d_m": loss_m.detach(), "d_c": loss_c.detach()}

    def to_mri(self, cbct):
        return self.g_cm(cbct)

    def to_cbct(self, mri):
        return self.g_mc(mri)


def build_cycle(spec: TranslatorSpec) -> CycleGAN:
    return CycleGAN(spec, contextual=False)


def build_cx(spec: TranslatorSpec) -> CycleGAN:
    return CycleGAN(spec, contextual=True)
