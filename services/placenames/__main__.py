import gc

from services.placenames.main import create_app
from services.placenames.settings import PlacenamesSettings
from shared.serve import serve

settings = PlacenamesSettings()
app = create_app(settings)
# A full garbage collection walks every tracked object and answers no request meanwhile, and most of them come
# from the imports and the app. They live as long as the process, so they are set aside: a full collection then
# walks only what requests made.
gc.freeze()
serve(app, name=settings.service_name, port=settings.port, log_level=settings.log_level)
