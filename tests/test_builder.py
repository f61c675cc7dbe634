"""Tests for reramsim.builder: IR networks built layer by layer."""
import numpy as np

from reramsim.builder import NetworkBuilder


def test_builder_tracks_shapes_and_names():
    """Each layer's output shape follows from its input, and names are op + position."""
    nb = NetworkBuilder((1, 8, 8), name="small")
    c = nb.conv("x", 4, 3, stride=1, pad=1)
    p = nb.maxpool(nb.relu(c), 2, 2)
    out = nb.fc(nb.flatten(p), 10, bias=True)
    net = nb.network(out)
    assert [layer.name for layer in net.layers] == ["conv0", "relu1", "maxpool2", "flatten3", "fc4"]
    assert nb.shapes[p] == (4, 4, 4) and nb.shapes["flatten3"] == (64,)
    assert net.name == "small" and net.outputs == ["fc4"] and net.inputs == {"x": (1, 8, 8)}
    assert net.n_weights == 4 * 9 + 64 * 10
    assert net.layers[0].bias is None and np.array_equal(net.layers[-1].bias, np.zeros(10))


def test_builder_is_seeded():
    """The same seed draws the same weights; another seed draws others."""
    def weights(seed):
        nb = NetworkBuilder((6,), seed=seed)
        return nb.network(nb.fc("x", 3)).layers[0].weight

    assert np.array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))
