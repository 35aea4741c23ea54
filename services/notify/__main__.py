from services.notify import wiring
from services.notify.settings import NotifySettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, NotifySettings, wiring.build)
