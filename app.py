"""The Gradio web page over the index: `python app.py` (or `qa serve`) opens it on 127.0.0.1:7860.

Environment: QA_INDEX (default "index"), GRADIO_SERVER_PORT (default 7860).
"""

import os

from qa.interfaces.web import create_app, serve

if __name__ == "__main__":
    serve(os.environ.get("QA_INDEX", "index"))
else:
    # `gradio app.py` (hot reload) looks for a module-level `demo`.
    demo = create_app(os.environ.get("QA_INDEX", "index"))
