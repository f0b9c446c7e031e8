"""Writing a predicted mask as a DICOM Segmentation (SEG) of its source series, with highdicom.

highdicom builds the Segmentation IOD (DICOM PS3.3 A.51) from the source images: one BINARY segment, property
category "Morphologically Abnormal Structure" and type "Neoplasm" (SNOMED CT 49755003 / 108369006), algorithm type
AUTOMATIC with the model named in the algorithm identification (family "Artificial Intelligence", DCM 123110);
frames follow the mask's own grid, given explicitly (plane positions, orientation and pixel measures of the image
the mask lies on), so the SEG is where the mask is in patient coordinates even when that grid is not the source
slices' pixel grid (a gantry-tilted series put on an orthogonal grid); empty frames are omitted (all frames kept when
the whole mask is empty). Checked with highdicom 0.28, pydicom 3.0 and numpy 2.4: the frames read back with
``highdicom.seg.segread`` are the mask.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cmedl_bench import __version__
from cmedl_bench.data.dicom_series import SeriesFiles
from cmedl_bench.io.atomic import atomic_write

#: patient and study attributes the SEG copies from its sources (Type 2: present, possibly empty)
_TYPE_2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
           "ReferringPhysicianName", "StudyID", "AccessionNumber")


def write_seg(path: Path, mask_zyx: np.ndarray, image, files: SeriesFiles, segment_label: str,
              model_name: str) -> None:
    """Write ``mask_zyx`` (on the grid of the SimpleITK ``image``, one plane per source slice in position order) as
    a DICOM SEG of the series."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(str(p)) for _, p in files.slices]
    for source in sources:  # Type 2 patient and study attributes may be absent from exports; they are copied
        for keyword in _TYPE_2:
            if keyword not in source:
                setattr(source, keyword, "")
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label=segment_label[:64],
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=model_name[:64], family=codes.cid7162.ArtificialIntelligence, version=__version__))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # highdicom's advice on the copied person-name format
        seg = _segmentation(hd, sources, mask_zyx, image, segment, files, model_name)
    atomic_write(path, lambda tmp: seg.save_as(tmp))


def _plane_geometry(hd, image, planes: int) -> dict:
    """highdicom's description of the grid of ``image``: one position per plane, the orientation, pixel measures."""
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    spacing = image.GetSpacing()
    return {"plane_positions": [hd.PlanePositionSequence("PATIENT", list(image.TransformIndexToPhysicalPoint(
                (0, 0, k)))) for k in range(planes)],
            "plane_orientation": hd.PlaneOrientationSequence("PATIENT", [*direction[:, 0], *direction[:, 1]]),
            "pixel_measures": hd.PixelMeasuresSequence([spacing[1], spacing[0]], spacing[2], spacing[2])}


def _segmentation(hd, sources, mask_zyx: np.ndarray, image, segment, files: SeriesFiles, model_name: str):
    from pydicom.uid import generate_uid

    return hd.seg.Segmentation(
        source_images=sources, pixel_array=mask_zyx.astype(bool), segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment], series_instance_uid=generate_uid(),
        series_number=9500 + int(getattr(files.header, "SeriesNumber", 0) or 0) % 500, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="cmedl-bench", manufacturer_model_name=model_name[:64],
        software_versions=__version__, device_serial_number="none",
        omit_empty_frames=bool(mask_zyx.any()),  # a scan without predicted tumour keeps all its (empty) frames
        **_plane_geometry(hd, image, len(mask_zyx)))
