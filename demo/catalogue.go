package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// What the company sells: air-suspension parts and work on them.

var cars = []string{
	"Mercedes-Benz S-Class W221", "Mercedes-Benz S-Class W222", "Mercedes-Benz GL X164",
	"Mercedes-Benz GLE W166", "Mercedes-Benz ML W164", "Mercedes-Benz E-Class W212",
	"Audi A6 C6 allroad", "Audi A8 D3", "Audi A8 D4", "Audi Q7 4L", "Volkswagen Touareg NF",
	"Volkswagen Touareg 7L", "Porsche Cayenne 958", "Porsche Panamera 970", "BMW X5 E70", "BMW 7 F01",
	"BMW X6 E71", "Range Rover L322", "Range Rover Sport L320", "Land Rover Discovery 4",
	"Lexus LX 570", "Lexus GX 460", "Toyota Land Cruiser 200", "Mercedes-Benz Sprinter",
}

// item is a part or a job with its price range in roubles.
type item struct {
	name   string
	lo, hi float64
}

var items = []item{
	{"Пневмобаллон передний левый", 9000, 28000},
	{"Пневмобаллон передний правый", 9000, 28000},
	{"Пневмобаллон задний", 7000, 22000},
	{"Пневмостойка передняя левая", 25000, 95000},
	{"Пневмостойка передняя правая", 25000, 95000},
	{"Пневмостойка задняя", 22000, 80000},
	{"Компрессор пневмоподвески", 18000, 65000},
	{"Блок клапанов", 9000, 30000},
	{"Ресивер", 6000, 15000},
	{"Датчик уровня кузова", 3000, 12000},
	{"Восстановление пневмостойки", 8000, 25000},
	{"Установка пневмостойки", 3000, 8000},
	{"Диагностика пневмоподвески", 3000, 5000},
	{"Комплект пневмоподвески (4 стойки)", 90000, 150000},
}

// price returns a price in the item's range, rounded to 100 roubles.
func (it item) price(r *rand.Rand) float64 {
	p := it.lo + (it.hi-it.lo)*r.Float64()*r.Float64() // most are cheaper
	return float64(int(p/100)) * 100
}

// junkValues are what a manager types to get past a required field.
var junkValues = []string{"s1nbvc[w/q", "фыва", "123", "-", "ааа", "xxx", "..", "qwerty"}

// emptyNotes are the comments that say nothing (seed 002: «Просто в формате
// "Связался" не подходит»).
var emptyNotes = []string{"Связал{ся}", "перезвонить", "Созвонились", "ок", "Перезвонить", "связал{ся}",
	"недозвон", "+"}

// Loss reasons by when the deal is lost.
var (
	lossAvito   = []string{"нецелевое", "спам", "ищет б/у за бесценок", "другой регион", "ошибся объявлением", "дубль"}
	lossEarly   = []string{"не дозвонились", "купил у конкурента", "передумал", "цена", "нет в наличии", "долгий срок поставки"}
	lossPrice   = []string{"цена", "купил у конкурента", "передумал", "долгий срок поставки", "решил ремонтировать сам"}
	lossReady   = []string{"передумал", "купил у конкурента", "не забрал заказ", "не дозвонились"}
	lossWarm    = []string{"неактуально", "купил у конкурента", "продал автомобиль", "не дозвонились"}
	lossOpt     = []string{"цена", "работают с другим поставщиком", "нет нужного объёма", "отложили закупку"}
	lossService = []string{"не гарантийный случай", "нарушены условия эксплуатации", "клиент не привёз деталь"}
)

var cities = []string{"Москва", "Москва", "Москва", "Подольск", "Химки", "Балашиха", "Люберцы", "Мытищи",
	"Тула", "Калуга", "Рязань", "Владимир", "Тверь", "Ярославль"}

// lead is what a client asks for.
type lead struct {
	car  string
	item item
	city string
}

func newLead(r *rand.Rand) lead {
	return lead{car: pick(r, cars), item: pick(r, items), city: pick(r, cities)}
}

// title is the deal name: the request in a few words.
func (l lead) title() string { return l.item.name + ", " + l.car }

// rub formats an amount in roubles as a manager would write it: «38 500 ₽».
func rub(v float64) string {
	s := fmt.Sprintf("%d", int64(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u00a0")
		}
		b.WriteRune(c)
	}
	return b.String() + "\u00a0₽"
}

// Meaningful notes, by the step they follow.
func noteContact(r *rand.Rand, l lead) string {
	return fmt.Sprintf(pick(r, []string{
		"Поговорил{а} с клиентом. Запрос: %s, автомобиль %s. Машина проседает за ночь, договорились, что подберу варианты и перезвоню.",
		"Клиент сравнивает цены. Нужно: %s (%s). Объяснил{а} разницу между новой и восстановленной, обещал{а} расчёт сегодня.",
		"Дозвонил{ся}. Запрос: %s, %s. Интересует установка у нас, удобно в выходные.",
		"Выяснил{а} потребность: %s на %s. Клиент спросил про гарантию — рассказал{а} про год на восстановленные.",
	}), strings.ToLower(l.item.name), l.car)
}

func noteQualified(r *rand.Rand, l lead, amount float64) string {
	return fmt.Sprintf(pick(r, []string{
		"Озвучил{а} цену %s (%s) с установкой. Клиент согласен, ждёт счёт в WhatsApp.",
		"Отправил{а} КП в WhatsApp: %s, %s. Клиент думает до завтра, сравнивает с Exist.",
		"Согласовали цену %s на «%s». Нужна предоплата 30%%, клиент переведёт вечером.",
	}), rub(amount), strings.ToLower(l.item.name))
}

func noteOrdered(r *rand.Rand, l lead) string {
	return fmt.Sprintf(pick(r, []string{
		"Заказал{а} %s у поставщика, срок 1–2 дня. Клиента предупредил{а}.",
		"Деталь (%s) взяли из восстановленных на складе, передал{а} в цех на проверку.",
		"Предоплата получена, %s в работе, срок готовности 2 дня.",
	}), strings.ToLower(l.item.name))
}

func noteWon(r *rand.Rand, amount float64) string {
	return fmt.Sprintf(pick(r, []string{
		"Клиент забрал деталь, оплата %s получена. Предложил{а} скидку 5%% на следующую установку.",
		"Установили, машина держит уровень. Оплачено %s наличными.",
		"Отгрузили в транспортную компанию, оплата %s поступила на счёт.",
	}), rub(amount))
}

func noteWaiting(r *rand.Rand) (reason, text string) {
	switch r.IntN(3) {
	case 0:
		return "ожидание денег", "Клиент готов купить после зарплаты, просил набрать через несколько дней."
	case 1:
		return "ожидание запчастей", "Нужной стойки нет в наличии, ждём поступление из восстановления. Клиента предупредил{а}."
	}
	return "ожидание решения", "Клиент выбирает между ремонтом и заменой, обещал решить на неделе."
}

func noteWarm(r *rand.Rand) string {
	return pick(r, []string{
		"Позвонила: покупку отложил, машина пока ездит. Рассказала про акцию на восстановление, договорились созвониться.",
		"Клиент интересуется, но ждёт денег. Отправила в WhatsApp подборку вариантов с ценами.",
		"Выяснила потребность: нужен полный комплект, но бюджет ограничен. Предложила рассрочку.",
	})
}
