"""Type stubs of the extension module (the public API is in cpd/__init__.py)."""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

class NativeReport:
    def json(self) -> str: ...
    def table(self) -> str: ...
    def ids(self) -> List[str]: ...
    def folds(self) -> List[int]: ...
    def predictions(self) -> Optional[npt.NDArray[np.float64]]: ...
    def write(self, dir: Union[str, PathLike[str]]) -> List[str]: ...

def analyze(
    embeddings: Sequence[Tuple[str, Sequence[Tuple[str, npt.NDArray[Any]]]]],
    comp_ids: Sequence[str],
    comp_columns: Sequence[str],
    comp_values: npt.NDArray[np.float64],
    target_ids: Sequence[str],
    target_columns: Sequence[str],
    target_values: npt.NDArray[np.float64],
    settings: Dict[str, Any],
    threads: Optional[int] = None,
) -> NativeReport: ...
def project(
    h: npt.NDArray[Any],
    columns: Sequence[str],
    compositions: npt.NDArray[np.float64],
    threads: Optional[int] = None,
) -> Tuple[npt.NDArray[np.float64], int, List[str]]: ...
def check(
    baseline: Union[str, Tuple[str, str]],
    report: Union[str, Tuple[str, str]],
    tol: float,
    metric: str,
) -> Tuple[
    bool,
    List[Tuple[str, str, Optional[float], Optional[float], float]],
    List[str],
    List[Tuple[str, str]],
]: ...
def defaults() -> Dict[str, Any]: ...
