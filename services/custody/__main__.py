from services.custody import wiring
from services.custody.settings import CustodySettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, CustodySettings, wiring.build)
