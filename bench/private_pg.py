"""A private PostgreSQL cluster for one benchmark run, in a scratch folder
that goes with it (scripts/pg-cluster.sh does the work).

    cluster = PrivateCluster("tidings-x-bench-")
    try:
        dsn = cluster.start("-c shared_buffers=256MB")
        ... cluster.work is a scratch folder; harness.Setup(cluster) takes it as its database
    finally:
        cluster.destroy()
"""
import os
import shutil
import subprocess
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "pg-cluster.sh")


class PrivateCluster:
    def __init__(self, prefix):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.dir = os.path.join(self.work, "pg")
        self.dsn = None

    def start(self, options=""):
        """Starts the cluster with extra server options; returns its DSN."""
        out = subprocess.run([SCRIPT, "start", self.dir], check=True, capture_output=True, text=True,
                             env=dict(os.environ, TIDINGS_PG_OPTIONS=options)).stdout
        self.dsn = out.strip().splitlines()[-1]
        return self.dsn

    def destroy(self):
        """Stops the cluster and removes the scratch folder."""
        subprocess.run([SCRIPT, "destroy", self.dir], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)
