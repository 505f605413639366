"""examples/loss_landscape.py: the loss falls all the way from the initial to the trained weights,
yet a permuted copy of the trained network is a second minimum of equal loss behind a barrier,
and the plane through three copies has (at least) three valleys (issue 16)."""

from __future__ import annotations

import re

from tests.examples.test_examples import assert_png, run_example


def test_loss_landscape_script(tmp_path):
    out = run_example("loss_landscape.py", tmp_path / "out", "--steps", "21")
    accuracy = re.search(r"trained: loss [\d.]+, accuracy ([\d.]+)%", out)
    assert accuracy and float(accuracy.group(1)) > 95, out
    assert re.search(r"initial -> trained: .* falls all the way: True", out), out
    ends = re.search(r"permuted copy: loss ([\d.]+) at t=0, ([\d.]+) at t=1, ([\d.]+) halfway", out)
    assert ends, out
    a, b, middle = (float(v) for v in ends.groups())
    assert abs(a - b) < 1e-5 and middle > 10 * a, out  # the same loss twice, a barrier between
    minima = re.search(r"two permuted copies: (\d+) local minima on the grid: (.*)$", out, flags=re.MULTILINE)
    assert minima and int(minima.group(1)) >= 3, out
    found = {(float(al), float(be)) for al, be in re.findall(r"\((-?[\d.]+), (-?[\d.]+)\) loss", minima.group(2))}
    for copy in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)):  # a valley at each copy (on a grid of spacing 0.15)
        assert any(abs(al - copy[0]) < 0.1 and abs(be - copy[1]) < 0.1 for al, be in found), out
    centre = re.search(r"random filter-normalised plane: loss ([\d.]+) at the centre, from ([\d.]+)", out)
    assert centre and float(centre.group(2)) <= float(centre.group(1)) + 1e-3, out  # the centre is (near) the bottom
    for name in ("line", "minima", "random"):
        assert_png(tmp_path / "out" / f"loss_landscape_{name}.png")
