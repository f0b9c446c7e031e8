"""Writing small DICOM CT series and RT Structure Sets with pydicom, for the import tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


def _file_dataset(sop_class: str, modality: str, patient: str, study_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientID = patient
    ds.PatientName = patient
    ds.StudyInstanceUID = study_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = "20240102"
    return ds


def write_series(folder: Path, hu_zyx: np.ndarray, spacing_xyz=(2.0, 2.0, 3.0), origin=(-48.0, -48.0, -12.0),
                 row_dir=(1.0, 0.0, 0.0), col_dir=(0.0, 1.0, 0.0), patient: str = "P001",
                 series_date: str = "20240102", series_number: int = 1, offsets=None, frame: str | None = None,
                 study: str | None = None, step=None, extra: dict | None = None) -> dict:
    """One CT image per slice (int16 with rescale intercept -1024); returns the series' UIDs and geometry.
    ``offsets`` (mm along the normal, one per slice) places slices anywhere (default: k * slice spacing), so
    series with a missing, duplicated or unevenly spaced slice can be built; ``step`` (a vector in mm) puts slice k's
    corner at ``origin + k * step`` instead, which is how a scanner with a tilted gantry moves the couch (the step
    leaves the normal: a sheared series); ``extra`` sets more attributes on every slice (``GantryDetectorTilt``)."""
    folder.mkdir(parents=True, exist_ok=True)
    study, frame, series = study or generate_uid(), frame or generate_uid(), generate_uid()
    normal = np.cross(row_dir, col_dir)
    offsets = [k * spacing_xyz[2] for k in range(len(hu_zyx))] if offsets is None else offsets
    for k, plane in enumerate(hu_zyx):
        ds = _file_dataset(CTImageStorage, "CT", patient, study, frame)
        ds.SeriesInstanceUID = series
        ds.SeriesDate = series_date
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        corner = np.asarray(origin) + (k * np.asarray(step, float) if step is not None else offsets[k] * normal)
        ds.ImagePositionPatient = [float(v) for v in corner]
        for keyword, value in (extra or {}).items():
            setattr(ds, keyword, value)
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [float(spacing_xyz[1]), float(spacing_xyz[0])]  # row spacing (y), column spacing (x)
        ds.SliceThickness = float(spacing_xyz[2])
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = (plane.astype(np.int32) + 1024).astype(np.int16).tobytes()
        # listed in reverse so that the reader must sort by position, not by file name
        ds.save_as(folder / f"slice_{len(hu_zyx) - k:03d}.dcm", enforce_file_format=True)
    return {"study": study, "frame": frame, "series": series, "patient": patient, "origin": origin,
            "spacing": spacing_xyz, "normal": normal, "row": np.asarray(row_dir, float),
            "col": np.asarray(col_dir, float), "step": None if step is None else np.asarray(step, float)}


def plane_rectangle(series: dict, k: int, columns: tuple[float, float], rows: tuple[float, float]) -> np.ndarray:
    """A rectangle drawn on slice k's own plane, between continuous pixel indices ``columns`` and ``rows`` (corner
    of slice k from ``step``, or along the normal), in patient coordinates: a contour as a planner draws it."""
    corner = np.asarray(series["origin"], float) + k * series["step"]
    dx, dy = series["spacing"][0], series["spacing"][1]
    points = [(c, r) for c, r in ((columns[0], rows[0]), (columns[1], rows[0]), (columns[1], rows[1]),
                                  (columns[0], rows[1]))]
    return np.array([corner + c * dx * series["row"] + r * dy * series["col"] for c, r in points])


def write_rtstruct(path: Path, series: dict, rois: dict[str, list[np.ndarray]]) -> None:
    """An RT Structure Set referencing ``series``; ``rois`` maps ROI name -> closed planar contours (N, 3) in mm."""
    ds = _file_dataset(RTSTRUCT_STORAGE, "RTSTRUCT", series["patient"], series["study"], series["frame"])
    ds.SeriesInstanceUID = generate_uid()
    ds.StructureSetLabel = "test"
    referenced_series = Dataset()
    referenced_series.SeriesInstanceUID = series["series"]
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = series["study"]
    study.RTReferencedSeriesSequence = Sequence([referenced_series])
    frame = Dataset()
    frame.FrameOfReferenceUID = series["frame"]
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi_items, contour_items = [], []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ROIName = name
        roi.ReferencedFrameOfReferenceUID = series["frame"]
        roi_items.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        sequence = []
        for points in contours:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [f"{v:.4f}" for v in np.asarray(points, float).ravel()]
            sequence.append(contour)
        item.ContourSequence = Sequence(sequence)
        contour_items.append(item)
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    ds.save_as(path, enforce_file_format=True)


def rectangle(x0: float, x1: float, y0: float, y1: float, z: float) -> np.ndarray:
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])


def ellipse(cx: float, cy: float, ax: float, ay: float, z: float, n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t), np.full(n, z)], axis=1)
