"""Writing a predicted mask as a DICOM RT Structure Set (one ROI) that references its source image series.

The structure set follows the RT Structure Set IOD (DICOM PS3.3 A.19) as 3D Slicer (SlicerRT) and treatment-planning
systems read it: patient and study identifiers copied from the series, new series and instance UIDs, one ROI
(``StructureSetROISequence``, ``ROIContourSequence``, ``RTROIObservationsSequence``) with one CLOSED_PLANAR contour
per polygon of each slice (:mod:`cmedl_bench.data.contours`), each contour referencing the image it lies on, and the
whole series listed under ``ReferencedFrameOfReferenceSequence``. Contour points are patient coordinates (mm) of the
slice's pixel grid, so :func:`cmedl_bench.data.rtstruct.rasterise` gives back the mask exactly.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from cmedl_bench.data.contours import mask_polygons
from cmedl_bench.data.dicom_series import SeriesFiles
from cmedl_bench.io.atomic import atomic_write

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
#: attributes copied from the image series so the structure set files under the same patient and study
_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime",
           "StudyID", "AccessionNumber", "ReferringPhysicianName", "FrameOfReferenceUID", "PositionReferenceIndicator",
           "StudyDescription")
#: type 2 attributes of the structure set's own series (General Series module) that must be present, even empty
#: (dciodvfy reports their absence as an error; PositionReferenceIndicator, of the Frame of Reference module, is
#: copied above and empty when the image lacks it)
_EMPTY_TYPE_2 = ("OperatorsName",)
#: display colour of the ROI (red)
ROI_COLOUR = (255, 0, 0)


def _slice_uids(files: SeriesFiles) -> list[tuple[str, str]]:
    """(SOPClassUID, SOPInstanceUID) of each slice of the series, in position order."""
    import pydicom

    uids = []
    for _, path in files.slices:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
        uids.append((str(ds.SOPClassUID), str(ds.SOPInstanceUID)))
    return uids


def _image_reference(sop_class: str, sop_instance: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def _contours(mask_zyx: np.ndarray, image, uids: list[tuple[str, str]]):
    """ContourSequence items: every polygon of every slice in patient coordinates (mm)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    to_physical = np.asarray(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    origin = np.asarray(image.GetOrigin())
    items = []
    for k, plane in enumerate(mask_zyx):
        if not plane.any():
            continue
        for polygon in mask_polygons(plane):
            index = np.column_stack([polygon, np.full(len(polygon), k, dtype=float)])
            points = origin + index @ to_physical.T
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [round(float(v), 4) for v in points.ravel()]
            contour.ContourImageSequence = Sequence([_image_reference(*uids[k])])
            items.append(contour)
    return items


def write_rtstruct(path: Path, mask_zyx: np.ndarray, image, files: SeriesFiles, roi_name: str,
                   description: str) -> None:
    """Write ``mask_zyx`` (on the grid of ``image``, the series read in position order) as an RT Structure Set."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    header, uids = files.header, _slice_uids(files)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in _COPIED:
        setattr(ds, keyword, getattr(header, keyword, ""))
    for keyword in _EMPTY_TYPE_2:
        setattr(ds, keyword, "")
    now = datetime.datetime.now()
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 9000 + int(getattr(header, "SeriesNumber", 0) or 0) % 1000
    ds.SeriesDescription = description[:64]
    ds.Manufacturer = "cmedl-bench"
    ds.StructureSetLabel = roi_name[:16]
    ds.StructureSetDate, ds.StructureSetTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceNumber = 1

    series = Dataset()
    series.SeriesInstanceUID = files.uid
    series.ContourImageSequence = Sequence([_image_reference(*uid) for uid in uids])
    study = _image_reference("1.2.840.10008.3.1.2.3.1", str(header.StudyInstanceUID))  # Detached Study Management
    study.RTReferencedSeriesSequence = Sequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = str(getattr(header, "FrameOfReferenceUID", ""))
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])

    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = frame.FrameOfReferenceUID
    roi.ROIName = roi_name
    roi.ROIGenerationAlgorithm = "AUTOMATIC"
    ds.StructureSetROISequence = Sequence([roi])
    contour = Dataset()
    contour.ReferencedROINumber = 1
    contour.ROIDisplayColor = list(ROI_COLOUR)
    contour.ContourSequence = Sequence(_contours(mask_zyx, image, uids))
    ds.ROIContourSequence = Sequence([contour])
    observation = Dataset()
    observation.ObservationNumber = 1
    observation.ReferencedROINumber = 1
    observation.RTROIInterpretedType = "GTV"
    observation.ROIInterpreter = ""
    ds.RTROIObservationsSequence = Sequence([observation])
    atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))
