from services.routing.settings import WarningsSettings
from services.routing.warnings import wiring
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, WarningsSettings, wiring.build)
