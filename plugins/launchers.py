"""Registration of the built-in sweep launchers (no torch, submitit or ray import here)."""

from cmedl_bench.plugin import LauncherInfo, hookimpl, lazy


@hookimpl
def register_launchers(register):
    register("local", lazy("cmedl_bench_plugins.launch_local:LocalLauncher"),
             description="this process, one job after the other (interruptible and resumable)",
             info=LauncherInfo(options=()))
    register("slurm", lazy("cmedl_bench_plugins.launch_slurm:SlurmLauncher"),
             description="a Slurm job array through submitit (cluster=local runs the jobs as local processes)",
             info=LauncherInfo(options=("cluster", "partition", "time", "gpus", "cpus", "mem_gb", "account",
                                        "parallel")))
    register("ray", lazy("cmedl_bench_plugins.launch_ray:RayLauncher"),
             description="Ray tasks on a local or existing Ray cluster (pip install 'cmedl-bench[ray]')",
             info=LauncherInfo(options=("address", "cpus", "gpus", "num_cpus")))
