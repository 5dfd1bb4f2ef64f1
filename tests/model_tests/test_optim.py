"""model.optim.AdamW: the same weights as torch.optim.AdamW(fused=True), its state dict layout, no torch._dynamo."""

import subprocess
import sys

import torch

from model.optim import AdamW


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.GroupNorm(2, 4), torch.nn.SiLU(),
                                        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
        self.unused = torch.nn.Linear(2, 2)  # never gets a gradient: both optimizers must leave it alone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def make_model() -> Net:
    torch.manual_seed(0)
    return Net().to(memory_format=torch.channels_last)


def train(model: torch.nn.Module, optimizer, start: int = 0, stop: int = 6, total: int = 6) -> None:
    """Steps ``start`` to ``stop`` of a ``total``-step run (the same batches and warm-up whatever the split)."""
    gen = torch.Generator().manual_seed(1)
    for step in range(stop):
        x = torch.randn(8, 1, 8, 8, generator=gen).to(memory_format=torch.channels_last)
        if step < start:
            continue
        for group in optimizer.param_groups:
            group["lr"] = 1e-2 * (step + 1) / total  # a warm-up, set the way Trainer sets it
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()


def optimizer(cls: type, model: torch.nn.Module):
    """Ours, or torch's with the fused kernel ours runs."""
    fused = {"fused": True} if cls is torch.optim.AdamW else {}
    return cls(model.parameters(), lr=1e-2, weight_decay=0.1, **fused)


def weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_same_weights_as_torch_fused_adamw():
    ours, theirs = make_model(), make_model()
    train(ours, optimizer(AdamW, ours))
    train(theirs, optimizer(torch.optim.AdamW, theirs))
    for a, b in zip(weights(ours), weights(theirs), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(ours.unused.weight, make_model().unused.weight)


def test_state_dict_moves_between_ours_and_torch():
    """Train 3 steps with one class, hand its state to the other, train 3 more: as if one had run all 6."""
    reference = make_model()
    train(reference, optimizer(AdamW, reference))
    for first, second in ((AdamW, torch.optim.AdamW), (torch.optim.AdamW, AdamW)):
        model = make_model()
        before = optimizer(first, model)
        train(model, before, stop=3)
        after = optimizer(second, model)
        after.load_state_dict(before.state_dict())
        train(model, after, start=3)
        for a, b in zip(weights(model), weights(reference), strict=True):
            assert torch.equal(a, b), f"{first.__module__} -> {second.__module__}"


def test_training_a_trial_does_not_import_dynamo():
    """torch.optim imports torch._dynamo (2 s per trial worker); a trial's training and evaluation must not."""
    code = ("import sys\nfrom model.config import from_preset\nfrom model.train import train\n"
            "train(from_preset('micro', {'train.steps': 2, 'eval.every': 2}))\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"
