from services.credit import wiring
from services.credit.settings import CreditSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, CreditSettings, wiring.build)
