"""`aekit serve`: a latent-space explorer for a trained run, a FastAPI app and a static page.

from aekit.server import create_app
app = create_app("runs/vae2")          # then: uvicorn, or fastapi.testclient.TestClient(app)
"""

from aekit.server.app import create_app

__all__ = ["create_app"]
