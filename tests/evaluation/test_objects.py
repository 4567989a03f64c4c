import numpy as np

from dwelltime.evaluation.objects import make_objects


def test_generic_class_names_are_an_unknown_type():
    """Plane, airplane, PASCAL VOC's aeroplane: an aircraft of no stated type, not a type that
    every prediction gets wrong."""
    names = ["plane", "Airplane", "aeroplane", "AIRCRAFT", "IL62"]
    objects = make_objects(np.zeros((5, 4, 2)), types=names)
    assert list(objects.types) == ["unknown"] * 4 + ["IL62"]
